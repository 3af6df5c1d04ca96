// smtpd/dovecot_proto_test.cc — the Dovecot auth protocol lines: handshake,
// requests, replies, escaping and the security-option filter.
#include "smtpd/dovecot_proto.h"

#include <gtest/gtest.h>

namespace postern::smtpd::dovecot {
namespace {

TEST(DovecotProto, ReadsTheHandshake) {
  Handshake h;
  using S = Handshake::State;
  EXPECT_EQ(h.Feed("VERSION\t1\t2"), S::kMore);
  EXPECT_EQ(h.Feed("MECH\tPLAIN\tplaintext"), S::kMore);
  EXPECT_EQ(h.Feed("MECH\tlogin\tplaintext"), S::kMore);
  EXPECT_EQ(h.Feed("MECH\tANONYMOUS\tanonymous"), S::kMore);
  EXPECT_EQ(h.Feed("MECH\tSCRAM-SHA-256\tmutual-auth\tdictionary"), S::kMore);
  EXPECT_EQ(h.Feed("SPID\t1234"), S::kMore);
  EXPECT_EQ(h.Feed("CUID\t1"), S::kMore);
  EXPECT_EQ(h.Feed("COOKIE\t0123abcd"), S::kMore);
  EXPECT_EQ(h.Feed("DONE"), S::kDone);
  ASSERT_EQ(h.mechanisms().size(), 4u);
  EXPECT_EQ(h.mechanisms()[1].name, "LOGIN");
  EXPECT_TRUE(h.mechanisms()[1].plaintext);
  EXPECT_TRUE(h.mechanisms()[2].anonymous);
  EXPECT_TRUE(h.mechanisms()[3].mutual_auth && h.mechanisms()[3].dictionary);
}

TEST(DovecotProto, RefusesAnotherProtocol) {
  Handshake a;
  EXPECT_EQ(a.Feed("VERSION\t2\t0"), Handshake::State::kBad);
  Handshake b;
  EXPECT_EQ(b.Feed("220 smtp.example ESMTP"), Handshake::State::kBad);
  EXPECT_NE(b.error(), "");
}

TEST(DovecotProto, EncodesRequests) {
  AuthRequest r;
  r.id = 7;
  r.mechanism = "PLAIN";
  r.initial = "AGFsaWNlAHNlY3JldA==";
  r.secured = true;
  r.local_addr = "127.0.0.1";
  r.remote_addr = "127.0.0.5";
  r.local_port = 587;
  r.remote_port = 40000;
  EXPECT_EQ(EncodeAuth(r),
            "AUTH\t7\tPLAIN\tservice=smtp\tnologin\tsecured\tlip=127.0.0.1\trip=127.0.0.5\tlport=587\trport=40000"
            "\tresp=AGFsaWNlAHNlY3JldA==\n");
  AuthRequest login;
  login.id = 8;
  login.mechanism = "LOGIN";
  EXPECT_EQ(EncodeAuth(login), "AUTH\t8\tLOGIN\tservice=smtp\tnologin\n");
  EXPECT_EQ(EncodeCont(8, "YWxpY2U=\tx\ny"), "CONT\t8\tYWxpY2U=xy\n");  // nothing can split the line
  EXPECT_EQ(ClientHello(42), "VERSION\t1\t2\nCPID\t42\n");
}

TEST(DovecotProto, ParsesReplies) {
  auto ok = ParseReply("OK\t7\tuser=alice@example.org");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->kind, Reply::Kind::kOk);
  EXPECT_EQ(ok->id, 7u);
  EXPECT_EQ(ok->user, "alice@example.org");
  auto cont = ParseReply("CONT\t8\tVXNlcm5hbWU6");
  ASSERT_TRUE(cont);
  EXPECT_EQ(cont->kind, Reply::Kind::kCont);
  EXPECT_EQ(cont->data, "VXNlcm5hbWU6");
  auto fail = ParseReply("FAIL\t9\tuser=bob\treason=Password\001texpired\ttemp");
  ASSERT_TRUE(fail);
  EXPECT_EQ(fail->kind, Reply::Kind::kFail);
  EXPECT_EQ(fail->user, "bob");
  EXPECT_EQ(fail->reason, "Password\texpired");
  EXPECT_TRUE(fail->temp);
  for (const char* bad : {"", "OK", "OK\tx", "OK\t0", "NOPE\t1", "FAIL\t99999999999"})
    EXPECT_FALSE(ParseReply(bad)) << bad;
}

TEST(DovecotProto, SecurityOptionsFilterMechanisms) {
  Handshake h;
  for (const char* l : {"VERSION\t1\t2", "MECH\tPLAIN\tplaintext", "MECH\tLOGIN\tplaintext",
                        "MECH\tANONYMOUS\tanonymous", "MECH\tCRAM-MD5\tdictionary\tactive", "DONE"})
    h.Feed(l);
  using V = std::vector<std::string>;
  EXPECT_EQ(Allowed(h.mechanisms(), {"noanonymous"}), (V{"PLAIN", "LOGIN", "CRAM-MD5"}));
  EXPECT_EQ(Allowed(h.mechanisms(), {"noanonymous", "noplaintext"}), (V{"CRAM-MD5"}));
  EXPECT_EQ(Allowed(h.mechanisms(), {"noplaintext", "nodictionary"}), (V{"ANONYMOUS"}));
  EXPECT_EQ(Allowed(h.mechanisms(), {}), (V{"PLAIN", "LOGIN", "ANONYMOUS", "CRAM-MD5"}));
  EXPECT_EQ(Allowed(h.mechanisms(), {"mutual_auth"}), V{});
}

}  // namespace
}  // namespace postern::smtpd::dovecot
