// milter/protocol_test.cc — the milter codec against recorded byte sequences
// (what Postfix's milter8 sends, what libmilter answers), and malformed input.
#include "postern/milter/protocol.h"

#include <gtest/gtest.h>

namespace postern::milter {
namespace {

using namespace std::string_literals;

TEST(MilterProtocol, OptnegIsPostfixsHandshake) {
  // Postfix 3.x, milter_protocol = 6: version 6, all actions 0x1ff, its event mask.
  EXPECT_EQ(Optneg(6, kAllActions, kV6Events), "\0\0\0\x0d" "O" "\0\0\0\x06" "\0\0\x01\xff" "\0\x1f\xff\xff"s);
}

TEST(MilterProtocol, ConnectHeloMailRcpt) {
  EXPECT_EQ(Connect("client.example", '4', 40000, "192.0.2.1"),
            "\0\0\0\x1d" "C" "client.example\0" "4" "\x9c\x40" "192.0.2.1\0"s);
  EXPECT_EQ(Connect("localhost", 'U', 0, ""), "\0\0\0\x0c" "Clocalhost\0U"s);
  EXPECT_EQ(Helo("x.test"), "\0\0\0\x08" "Hx.test\0"s);
  EXPECT_EQ(Envelope(cmd::kMail, {"<a@b>", "SIZE=10"}), "\0\0\0\x0f" "M<a@b>\0SIZE=10\0"s);
  EXPECT_EQ(Header("Subject", "hi"), "\0\0\0\x0c" "LSubject\0hi\0"s);
  EXPECT_EQ(Bare(cmd::kBodyEob), "\0\0\0\x01" "E"s);
  EXPECT_EQ(Macros(cmd::kConnect, {{"j", "mx.test"}, {"{daemon_name}", "mx"}}),
            "\0\0\0\x1d" "DC" "j\0mx.test\0{daemon_name}\0mx\0"s);
}

TEST(MilterProtocol, ReaderSplitsPacketsAcrossReads) {
  PacketReader r;
  Packet p;
  std::string why;
  std::string two = "\0\0\0\x01" "c" "\0\0\0\x04" "hX-A"s;
  r.Feed(two.substr(0, 3));
  EXPECT_EQ(r.Next(&p, &why), PacketReader::Status::kMore);
  r.Feed(two.substr(3, 6));
  ASSERT_EQ(r.Next(&p, &why), PacketReader::Status::kPacket);
  EXPECT_EQ(p.code, rep::kContinue);
  EXPECT_EQ(p.data, "");
  EXPECT_EQ(r.Next(&p, &why), PacketReader::Status::kMore);
  r.Feed(two.substr(9));
  ASSERT_EQ(r.Next(&p, &why), PacketReader::Status::kPacket);
  EXPECT_EQ(p.code, rep::kAddHeader);
  EXPECT_EQ(p.data, "X-A");
}

TEST(MilterProtocol, ReaderRefusesBadLengths) {
  Packet p;
  std::string why;
  PacketReader zero;
  zero.Feed("\0\0\0\0"s);
  EXPECT_EQ(zero.Next(&p, &why), PacketReader::Status::kError);
  EXPECT_EQ(why, "bad packet length: 0");
  PacketReader huge;
  huge.Feed("\x7f\xff\xff\xff" "c"s);  // garbage: would ask for 2 GiB
  EXPECT_EQ(huge.Next(&p, &why), PacketReader::Status::kError);
  EXPECT_NE(why.find("unreasonable packet length"), std::string::npos);
}

TEST(MilterProtocol, OptnegReplyWithMacroLists) {
  // OpenDKIM's answer: version 6, ADDHDRS|QUARANTINE... plus a SMFIM_EOM list.
  Packet p{cmd::kOptneg, "\0\0\0\x06" "\0\0\0\x21" "\0\0\x01\x00" "\0\0\0\x05" "i {auth_type}\0"s};
  auto n = ParseOptneg(p);
  ASSERT_TRUE(n.ok()) << n.error();
  EXPECT_EQ(n->version, 6u);
  EXPECT_EQ(n->actions, kAddHdrs | kQuarantineAct);
  EXPECT_EQ(n->protocol, kNoUnknown);
  EXPECT_EQ(n->macros.at(Stage::kEom), "i {auth_type}");
  EXPECT_FALSE(ParseOptneg({cmd::kOptneg, "\0\0\0\x06"s}).ok());
  EXPECT_FALSE(ParseOptneg({rep::kContinue, ""}).ok());
  EXPECT_FALSE(ParseOptneg({cmd::kOptneg, "\0\0\0\x06\0\0\0\0\0\0\0\0\0\0\0\x05no-nul"s}).ok());
}

TEST(MilterProtocol, Edits) {
  auto e = ParseEdit({rep::kChgHeader, "\0\0\0\x02" "Subject\0" "new\0"s});
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->index, 2u);
  EXPECT_EQ(e->name, "Subject");
  EXPECT_EQ(e->value, "new");
  auto from = ParseEdit({rep::kChgFrom, "<x@y>\0"s});
  ASSERT_TRUE(from.ok());
  EXPECT_EQ(from->name, "<x@y>");
  EXPECT_EQ(ParseEdit({rep::kAddRcptPar, "<r@y>\0NOTIFY=NEVER\0"s})->value, "NOTIFY=NEVER");
  EXPECT_EQ(ParseEdit({rep::kReplBody, "new body\r\n"})->value, "new body\r\n");
  EXPECT_FALSE(ParseEdit({rep::kAddHeader, "X-A\0no-terminator"s}).ok());
  EXPECT_FALSE(ParseEdit({rep::kDelRcpt, "<a>\0junk"s}).ok());
  EXPECT_FALSE(ParseEdit({rep::kInsHeader, "\0\0"s}).ok());
  EXPECT_FALSE(ParseEdit({rep::kAccept, ""}).ok());
}

TEST(MilterProtocol, ReplyCodeChecks) {
  EXPECT_EQ(*ParseReplyCode({rep::kReplyCode, "554 5.7.1 100%% spam\0"s}), "554 5.7.1 100% spam");
  EXPECT_EQ(*ParseReplyCode({rep::kReplyCode, "451 4.7.1 later"}), "451 4.7.1 later");
  EXPECT_FALSE(ParseReplyCode({rep::kReplyCode, "250 ok"}).ok());
  EXPECT_FALSE(ParseReplyCode({rep::kReplyCode, "550 4.7.1 mismatch"}).ok());
  EXPECT_FALSE(ParseReplyCode({rep::kReplyCode, "55"}).ok());
}

TEST(MilterProtocol, Names) {
  EXPECT_STREQ(CommandName(cmd::kConnect), "SMFIC_CONNECT");
  EXPECT_STREQ(ReplyName(rep::kAddRcptPar), "SMFIR_ADDRCPT_PAR");
  EXPECT_STREQ(ReplyName('Z'), "(unknown filter reply)");
}

}  // namespace
}  // namespace postern::milter
