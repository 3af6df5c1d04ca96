// milter/message_test.cc — splitting queued content for milters and applying
// their header, body and envelope edits with Postfix's index rules.
#include "postern/milter/message.h"

#include <gtest/gtest.h>

namespace postern::milter {
namespace {

const char* kRaw =
    "Received: from a\r\n\tby b\r\nSubject: one\r\nX-Tag: 1\r\nX-Tag: 2\r\n\r\nbody line\r\n";

TEST(MilterMessage, ParseAndSerializeRoundTrip) {
  Message m = Message::Parse(kRaw);
  ASSERT_EQ(m.headers.size(), 4u);
  EXPECT_EQ(m.headers[0].name, "Received");
  EXPECT_EQ(m.headers[0].value, " from a\n\tby b");
  EXPECT_EQ(Message::SentValue(m.headers[0], false), "from a\n\tby b");
  EXPECT_EQ(Message::SentValue(m.headers[0], true), " from a\n\tby b");
  EXPECT_EQ(m.body, "body line\r\n");
  EXPECT_EQ(m.Serialize(), kRaw);
  Message bare = Message::Parse("Subject: x\r\nnot a header line\r\n");
  EXPECT_EQ(bare.headers.size(), 1u);
  EXPECT_EQ(bare.body, "not a header line\r\n");
  EXPECT_EQ(bare.Serialize(), "Subject: x\r\n\r\nnot a header line\r\n");
}

TEST(MilterMessage, HeaderEdits) {
  Message m = Message::Parse(kRaw);
  EnvelopeEdits env;
  ApplyEdits({{rep::kChgHeader, 2, "x-tag", "two"},
              {rep::kChgHeader, 0, "Subject", ""},                        // index 0 is the first; empty deletes
              {rep::kChgHeader, 1, "X-Missing", "added"},                 // changing a missing header adds it
              {rep::kInsHeader, 0, "DKIM-Signature", "v=1;\n\tb=abc"},     // index 0: the top
              {rep::kAddHeader, 0, "X-Spam", "no"}},
             false, &m, &env);
  EXPECT_EQ(m.Serialize(),
            "DKIM-Signature: v=1;\r\n\tb=abc\r\nReceived: from a\r\n\tby b\r\nX-Tag: 1\r\nX-Tag: two\r\n"
            "X-Missing: added\r\nX-Spam: no\r\n\r\nbody line\r\n");
  Message lead = Message::Parse(kRaw);
  ApplyEdits({{rep::kAddHeader, 0, "X-Lead", "  spaced"}}, true, &lead, &env);
  EXPECT_EQ(lead.headers.back().value, "  spaced");
}

TEST(MilterMessage, BodyAndEnvelopeEdits) {
  Message m = Message::Parse(kRaw);
  EnvelopeEdits env;
  ApplyEdits({{rep::kReplBody, 0, "", "new\nbo"},
              {rep::kReplBody, 0, "", "dy"},
              {rep::kAddRcpt, 0, "<extra@example.org>", ""},
              {rep::kDelRcpt, 0, "<old@example.org>", ""},
              {rep::kChgFrom, 0, "<bounces@example.org>", "SIZE=10"}},
             false, &m, &env);
  EXPECT_EQ(m.body, "new\r\nbody\r\n");
  EXPECT_EQ(env.add_rcpts, std::vector<std::string>{"extra@example.org"});
  EXPECT_EQ(env.del_rcpts, std::vector<std::string>{"old@example.org"});
  EXPECT_EQ(env.sender, "bounces@example.org");
  EXPECT_EQ(StripAngles(" <> "), "");
}

}  // namespace
}  // namespace postern::milter
