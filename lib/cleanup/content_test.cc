// cleanup/content_test.cc — the cleanup content filter: hop counting against
// hopcount_limit (Postfix counts the header it prepends itself), stray
// characters and header_size_limit together, any chunking.
#include "postern/cleanup/content.h"

#include <gtest/gtest.h>

#include "postern/smtp/filter_test_util.h"
#include "postern/table/test_util.h"

namespace postern::cleanup {
namespace {


std::string Hops(int received, int delivered) {
  std::string s = "Received: by us\r\n";  // the one the receiving program prepends
  for (int i = 0; i < received; ++i) s += "Received: from h" + std::to_string(i) + "\r\n\tby x\r\n";
  for (int i = 0; i < delivered; ++i) s += "Delivered-To: u" + std::to_string(i) + "@x\r\n";
  return s + "Subject: loop\r\n\r\nReceived: body text does not count\r\n";
}

TEST(Content, HopLimitCountsReceivedAndDeliveredTo) {
  Options o;
  o.hopcount_limit = 5;
  struct { int received, delivered; bool too_many; } cases[] = {
      {0, 0, false}, {3, 0, false}, {4, 0, true}, {2, 1, false}, {2, 2, true}, {0, 4, true}, {9, 9, true},
  };
  for (const auto& c : cases) {
    for (size_t chunk : {size_t(1), size_t(7), size_t(4096)}) {
      Content content(o);
      std::string in = Hops(c.received, c.delivered);
      EXPECT_EQ(smtp::testing::Chunked(in, chunk, &content), in);
      EXPECT_EQ(content.hops(), unsigned(1 + c.received + c.delivered));
      EXPECT_EQ(content.too_many_hops(), c.too_many) << c.received << "/" << c.delivered << " chunk " << chunk;
    }
  }
}

TEST(Content, ZeroHopLimitIsNoLimit) {
  Options o;
  o.hopcount_limit = 0;
  Content content(o);
  smtp::testing::Chunked(Hops(100, 0), 4096, &content);
  EXPECT_FALSE(content.too_many_hops());
}

TEST(Content, StrayCharactersAndLongHeadersTogether) {
  using namespace std::string_literals;
  Options o;
  o.header_size_limit = 16;
  o.drop_headers = {"Return-Path"};
  std::string in = "Return-Path: <x>\r\nX-Long: 0123456789\rabc\r\nSubject: a\0b\r\n\r\nbody\r.\r\n\0.\r\n"s;
  for (size_t chunk : {size_t(1), size_t(2), size_t(4096)}) {
    Content c(o);
    EXPECT_EQ(smtp::testing::Chunked(in, chunk, &c), "X-Long: 01234567\r\nSubject: a b\r\n\r\nbody .\r\n .\r\n") << chunk;
    EXPECT_EQ(c.truncated(), 1u);
    EXPECT_EQ(c.nuls(), 2u);
    EXPECT_EQ(c.stray(), 2u);
  }
}

// What the "message-id=" log line shows.
TEST(Content, MessageId) {
  struct { std::string in, want; } cases[] = {
      {"Message-ID: <a@b>\r\n\r\nx", "<a@b>"},
      {"Message-Id:\r\n\t<folded@b>  \r\nTo: c\r\n\r\n", "<folded@b>"},
      {"Message-ID: <\x01@b>\r\n\r\n", "<?@b>"},
      {"Subject: none\r\n\r\nMessage-ID: <body@b>\r\n", "<>"},
  };
  for (const auto& c : cases) {
    Content content;
    std::string buf = c.in;
    content.Apply(&buf, 0);
    content.Finish(&buf);
    EXPECT_EQ(content.message_id(), c.want) << c.in;
  }
}

// Postfix's cleanup: Message-Id: <YYYYMMDDhhmmss.QID@myhostname>, Date: and
// From: for local submissions, and for SMTP mail only when asked.
TEST(Content, AddsMissingHeadersToLocalSubmissionsOrWhenAsked) {
  Options o;
  o.myhostname = "mx.example.test";
  const time_t arrival = 1700000000;  // 2023-11-14 22:13:20 UTC
  for (bool local : {true, false}) {
    for (bool always : {false, true}) {
      o.always_add_missing_headers = always;
      Content c(o);
      c.AddMissingHeaders(local, 0x0a1b2c3du, "alice@example.org", arrival);
      std::string buf = "Subject: s\r\n\r\nbody\r\n";
      c.Apply(&buf, 0);
      c.Finish(&buf);
      if (!local && !always) {
        EXPECT_EQ(buf, "Subject: s\r\n\r\nbody\r\n");
        EXPECT_EQ(c.message_id(), "<>");
        continue;
      }
      EXPECT_EQ(c.message_id(), "<20231114221320.0a1b2c3d@mx.example.test>");
      EXPECT_TRUE(buf.starts_with("Subject: s\r\nMessage-Id: <20231114221320.0a1b2c3d@mx.example.test>\r\nDate: "))
          << buf;
      EXPECT_TRUE(buf.ends_with(" 2023 22:13:20 +0000\r\nFrom: <alice@example.org>\r\n\r\nbody\r\n") ||
                  buf.find("\r\nFrom: <alice@example.org>\r\n\r\nbody\r\n") != std::string::npos)
          << buf;
    }
  }
  Content bounce(o);
  bounce.AddMissingHeaders(true, 1, "", arrival);
  std::string buf = "From: me\r\nDate: x\r\nMessage-ID: <k@x>\r\n\r\n";
  bounce.Apply(&buf, 0);
  bounce.Finish(&buf);
  EXPECT_EQ(buf, "From: me\r\nDate: x\r\nMessage-ID: <k@x>\r\n\r\n");  // nothing missing, nothing added
  EXPECT_EQ(bounce.message_id(), "<k@x>");
}

}  // namespace
}  // namespace postern::cleanup
