// queue/schema_test.cc — ids and the record encoding: round trips, bounds,
// and rejection of damaged values.
#include "postern/queue/schema.h"

#include <gtest/gtest.h>

#include "postern/queue/ids.h"

namespace postern::queue {
namespace {

TEST(Ids, FormatAndParse) {
  struct Case {
    std::string text;
    bool msg_ok, env_ok;
  } cases[] = {
      {"0000abcd", true, false}, {"9f3a01c2", true, false}, {"00000000", false, false},
      {"9F3A01C2", true, false}, {"9f3a01c", false, false}, {"9f3a01c2x", false, false},
      {"9f3a01c200000001", false, true}, {"000000000000abcd", false, false},
      {"9f3a01c200000000", false, false}, {"zz3a01c200000001", false, false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ParseMsgId(c.text).has_value(), c.msg_ok) << c.text;
    EXPECT_EQ(ParseEnvId(c.text).has_value(), c.env_ok) << c.text;
  }
  EXPECT_EQ(FormatMsgId(0xabcd), "0000abcd");
  EXPECT_EQ(FormatEnvId(0x9f3a01c200000001ULL), "9f3a01c200000001");
  EXPECT_EQ(*ParseAnyId("9f3a01c2"), 0x9f3a01c2u);
  EXPECT_TRUE(IsMsgId(*ParseAnyId("9f3a01c2")));
  EXPECT_FALSE(IsMsgId(*ParseAnyId("9f3a01c200000001")));
}

TEST(Ids, RandomIdsAreNonZeroAndEnvelopeCarriesMessage) {
  for (int i = 0; i < 10000; ++i) {
    MsgId m = RandomMsgId();
    ASSERT_NE(m, 0u);
    EnvId e = MakeEnvId(m, RandomLow32());
    ASSERT_EQ(MsgOf(e), m);
    ASSERT_NE(e & 0xffffffffu, 0u);
    ASSERT_EQ(*ParseEnvId(FormatEnvId(e)), e);
    ASSERT_EQ(*ParseMsgId(FormatMsgId(m)), m);
  }
}

MessageRecord SampleMessage() {
  MessageRecord m;
  m.id = 0x12345678;
  m.sender = "alice@example.org";
  m.arrival = 1700000000;
  m.size = 4120;
  m.client_name = "client.example";
  m.client_addr = "192.0.2.1";
  m.helo = "client.example";
  m.protocol = "ESMTPSA";
  m.auth_user = "alice";
  m.dsn_envid = "QQ314159";
  m.dsn_ret = DsnRet::kHdrs;
  m.flags = kFlag8BitMime | kFlagSmtpUtf8;
  m.nrcpt = 3;
  return m;
}

Envelope SampleEnvelope() {
  Envelope e;
  e.id = 0x12345678abcdef01ULL;
  e.recipient = "bob@example.net";
  e.orig_recipient = "rfc822;bob@example.net";
  e.notify = kNotifyFailure | kNotifyDelay;
  e.state = State::kDeferred;
  e.attempts = 4;
  e.last_error = "451 4.7.1 greylisted";
  e.created = 1700000000;
  e.next_attempt = 1700003600;
  e.expiry = 1700432000;
  e.last_attempt = 1700001800;
  e.transport = "smtp";
  e.nexthop = "example.net";
  return e;
}

TEST(Schema, MessageRoundTrips) {
  MessageRecord minimal;
  minimal.id = 1;
  MessageRecord variants[] = {SampleMessage(), minimal, SampleMessage()};
  variants[2].sender.clear();  // the null sender
  variants[2].arrival = -5;    // zigzag keeps signed times
  for (const MessageRecord& m : variants) {
    auto v = EncodeMessage(m);
    ASSERT_TRUE(v);
    auto back = DecodeMessage(m.id, *v);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, m);
  }
}

TEST(Schema, EnvelopeRoundTrips) {
  Envelope e = SampleEnvelope();
  for (State s : kAllStates) {
    e.state = s;
    e.owner_pid = s == State::kActive ? 4242 : 0;
    auto v = EncodeEnvelope(e);
    ASSERT_TRUE(v);
    auto back = DecodeEnvelope(e.id, *v);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, e);
  }
}

// A FILTER action's route makes a version 2 value; without one the value
// stays version 1, byte for byte what older postern wrote and reads.
TEST(Schema, MessageWithClientPortIsVersionTwo) {
  MessageRecord m = SampleMessage();
  EXPECT_EQ((*EncodeMessage(m))[0], 1);
  m.client_port = 50123;
  std::string v2 = *EncodeMessage(m);
  EXPECT_EQ(v2[0], 2);
  auto back = DecodeMessage(m.id, v2);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, m);
  for (size_t cut = 0; cut < v2.size(); ++cut) EXPECT_FALSE(DecodeMessage(1, v2.substr(0, cut))) << cut;
  m.client_port = 0;
  std::string v1 = *EncodeMessage(m);
  v1[0] = 2;  // version 2 needs its port
  EXPECT_FALSE(DecodeMessage(1, v1));
}

TEST(Schema, EnvelopeFilterIsVersionTwo) {
  Envelope e = SampleEnvelope();
  EXPECT_EQ((*EncodeEnvelope(e))[0], 1);
  e.filter = "smtp:[127.0.0.1]:10025";
  std::string v2 = *EncodeEnvelope(e);
  EXPECT_EQ(v2[0], 2);
  auto back = DecodeEnvelope(e.id, v2);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, e);
  for (size_t cut = 0; cut < v2.size(); ++cut) EXPECT_FALSE(DecodeEnvelope(1, v2.substr(0, cut))) << cut;
  e.filter.clear();
  std::string v1 = *EncodeEnvelope(e);
  v1[0] = 2;  // version 2 needs its filter
  EXPECT_FALSE(DecodeEnvelope(1, v1));
}

TEST(Schema, EncodeRefusesOversizedStrings) {
  MessageRecord m = SampleMessage();
  m.sender.assign(kMaxAddress + 1, 'a');
  EXPECT_FALSE(EncodeMessage(m));
  Envelope e = SampleEnvelope();
  e.last_error.assign(kMaxError + 1, 'x');
  EXPECT_FALSE(EncodeEnvelope(e));
  e.last_error.assign(kMaxError, 'x');
  EXPECT_TRUE(EncodeEnvelope(e));
}

TEST(Schema, DecodeRejectsDamage) {
  std::string good = *EncodeEnvelope(SampleEnvelope());
  for (size_t cut = 0; cut < good.size(); ++cut) {
    EXPECT_FALSE(DecodeEnvelope(1, good.substr(0, cut))) << "truncated at " << cut;
  }
  EXPECT_FALSE(DecodeEnvelope(1, good + "x"));  // trailing bytes
  std::string bad_version = good;
  bad_version[0] = 9;
  EXPECT_FALSE(DecodeEnvelope(1, bad_version));
  std::string bad_state = good;
  bad_state[1 + 1 + 15 + 1 + 22 + 1] = 7;  // version, len+recipient, len+orcpt, notify → state
  EXPECT_FALSE(DecodeEnvelope(1, bad_state));
  // A length prefix larger than the bound is refused before any allocation.
  std::string huge = std::string(1, 1) + "\xff\xff\xff\xff\x0f";
  EXPECT_FALSE(DecodeMessage(1, huge));
  std::string msg = *EncodeMessage(SampleMessage());
  for (size_t cut = 0; cut < msg.size(); ++cut) EXPECT_FALSE(DecodeMessage(1, msg.substr(0, cut)));
}

TEST(Schema, KeysSortInTimeAndIdOrder) {
  struct Case {
    int64_t t1;
    EnvId e1;
    int64_t t2;
    EnvId e2;
  } cases[] = {
      {1, 99, 2, 1},           {255, 5, 256, 1},     {1700000000, 7, 1700000001, 3},
      {1700000000, 3, 1700000000, 7}, {-1, 5, 0, 6},
  };
  for (const Case& c : cases) EXPECT_LT(SchedKey(c.t1, c.e1), SchedKey(c.t2, c.e2)) << c.t1 << " " << c.t2;
  EXPECT_LT(EnvKey(0x0000000100000005ULL), EnvKey(0x0000000200000001ULL));
  EXPECT_LT(MsgKey(0xff), MsgKey(0x100));
  EXPECT_EQ(LoadBE(EnvKey(0x1122334455667788ULL)), 0x1122334455667788ULL);
  EXPECT_EQ(StateKey(State::kHold, 1).size(), 9u);
}

TEST(Schema, StateNames) {
  for (State s : kAllStates) EXPECT_EQ(*ParseState(StateName(s)), s);
  EXPECT_FALSE(ParseState("inflight"));
}

}  // namespace
}  // namespace postern::queue
