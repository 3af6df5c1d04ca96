// notify/notify_test.cc — class names, transcripts, the notice text and the limiter.
#include "postern/notify/notify.h"

#include <gtest/gtest.h>

namespace postern::notify {
namespace {

TEST(NotifyClasses, PostfixNamesAnyCase) {
  auto m = ParseNotifyClasses({"Policy", "protocol", "resource", "software"});
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, unsigned(kClassPolicy | kClassProtocol | kClassResource | kClassSoftware));
  EXPECT_FALSE(ParseNotifyClasses({"policy", "spam"}));
}

TEST(Transcript, RepliesSplitIntoOutLinesAndTheCapIsSaid) {
  Transcript t(3);
  t.Add("In:  ", "EHLO client");
  t.AddReplies("250-mx.test\r\n250 SIZE 1000\r\n");
  EXPECT_EQ(t.Text(), "In:  EHLO client\nOut: 250-mx.test\nOut: 250 SIZE 1000\n");
  t.Add("In:  ", "NOOP");
  EXPECT_EQ(t.lines(), 3u);
  EXPECT_EQ(t.Text().substr(t.Text().rfind("(")), "(transcript cut after 3 lines)\n");
  t.Clear();
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.Text(), "");
  Transcript small(100, 32);
  small.Add("In:  ", "NOOP 0123456789");
  small.Add("In:  ", "NOOP 0123456789");  // would pass 32 bytes
  EXPECT_EQ(small.Text(), "In:  NOOP 0123456789\n(transcript cut after 1 lines)\n");
}

TranscriptNotice Sample(std::string transcript, std::string reason = "") {
  TranscriptNotice n;
  n.mail_name = "postern";
  n.peer = "client.test[192.0.2.1]";
  n.from = "MAILER-DAEMON@mx.test";
  n.to = "postmaster@mx.test";
  n.message_id = "20261207080000.1a2b3c4d@mx.test";
  n.now = 1796630400;
  n.transcript = std::move(transcript);
  n.reason = std::move(reason);
  return n;
}

TEST(TranscriptNotice, PostfixHeadersAndBody) {
  std::string m = ComposeTranscriptNotice(Sample("Out: 220 mx.test ESMTP\nIn:  FOO\nOut: 502 5.5.2 Error: command not recognized\n"));
  EXPECT_EQ(m.substr(0, m.find("Date: ")),
            "From: MAILER-DAEMON@mx.test (Mail Delivery System)\r\n"
            "To: postmaster@mx.test (Postmaster)\r\n"
            "Subject: postern SMTP server: errors from client.test[192.0.2.1]\r\n");
  EXPECT_NE(m.find("Message-Id: <20261207080000.1a2b3c4d@mx.test>\r\n"), std::string::npos);
  EXPECT_NE(m.find("\r\n\r\nTranscript of session follows.\r\n\r\n Out: 220 mx.test ESMTP\r\n In:  FOO\r\n"
                   " Out: 502 5.5.2 Error: command not recognized\r\n\r\n\r\n"
                   "For other details, see the local mail logfile\r\n"),
            std::string::npos);
  EXPECT_EQ(m.find("Session aborted"), std::string::npos);
}

TEST(TranscriptNotice, ReasonUnprintableBytesAndLongLines) {
  std::string longline = "In:  MAIL FROM:<" + std::string(100, 'a') + "> SIZE=10 BODY=8BITMIME";
  std::string m = ComposeTranscriptNotice(Sample("In:  x\x01y\xc3\xa9\n" + longline + "\n", "lost connection"));
  EXPECT_NE(m.find(" In:  x?y??\r\n"), std::string::npos);
  // Broken before a word that would pass 78 columns, the rest indented by
  // four; a word longer than a line stays whole.
  EXPECT_NE(m.find(" In:  MAIL\r\n     FROM:<" + std::string(100, 'a') + ">\r\n     SIZE=10 BODY=8BITMIME\r\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("\r\nSession aborted, reason: lost connection\r\n"), std::string::npos);
  for (size_t pos = 0, nl; (nl = m.find("\r\n", pos)) != std::string::npos; pos = nl + 2) EXPECT_LE(nl - pos, 998u);
}

TEST(Limiter, BurstPerWindow) {
  Limiter l(2, 60);
  EXPECT_TRUE(l.Allow(1000));
  EXPECT_TRUE(l.Allow(1001));
  EXPECT_FALSE(l.Allow(1059));
  EXPECT_EQ(l.refused(), 1u);
  EXPECT_TRUE(l.Allow(1060));
}

}  // namespace
}  // namespace postern::notify
