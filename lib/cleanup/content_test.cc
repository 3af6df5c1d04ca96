// cleanup/content_test.cc — the cleanup content filter: hop counting against
// hopcount_limit (Postfix counts the header it prepends itself), stray
// characters and header_size_limit together, any chunking.
#include "cleanup/content.h"

#include <gtest/gtest.h>

#include "smtp/filter_test_util.h"
#include "table/test_util.h"

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

// The writer the programs without a DATA buffer use: pieces of any size in,
// cleaned content in the queue file.
TEST(Writer, StoresCleanedContent) {
  using namespace std::string_literals;
  table::testing::TempDir dir;
  auto q = queue::Queue::Open(dir.path(), queue::Options{});
  ASSERT_TRUE(q.ok()) << q.status().message;
  auto w = (*q)->Begin(queue::MessageRecord{});
  ASSERT_TRUE(w.ok());
  Options o;
  o.header_size_limit = 20;
  Writer cw(w->get(), o);
  ASSERT_TRUE(cw.Append("Received: by us\r\nX: 0123456789abcdefghij\r").ok());
  ASSERT_TRUE(cw.Append("\n\r\nNUL\0 and CR\r"s).ok());
  ASSERT_TRUE(cw.Finish().ok());
  EXPECT_EQ(cw.content().hops(), 1u);
  ASSERT_TRUE((*w)->AddRecipient({"a@example.org", "", 0}).ok());
  auto id = (*q)->Commit(std::move(*w));
  ASSERT_TRUE(id.ok()) << id.status().message;
  auto body = (*q)->OpenBody(*id);
  ASSERT_TRUE(body.ok());
  std::string got(256, '\0');
  auto n = body->Read(got.data(), got.size());
  ASSERT_TRUE(n.ok());
  got.resize(*n);
  EXPECT_EQ(got, "Received: by us\r\nX: 0123456789abcdefg\r\n\r\nNUL  and CR ");
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

}  // namespace
}  // namespace postern::cleanup
