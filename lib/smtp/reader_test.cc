// smtp/reader_test.cc — command line splitting: pipelining, bare LF,
// over-long lines in any split, and the hand-over to the DATA decoder.
#include "postern/smtp/reader.h"

#include <gtest/gtest.h>

#include "postern/smtp/data.h"

namespace postern::smtp {
namespace {

struct Got {
  std::string text;
  bool bare_lf, too_long;
  bool operator==(const Got&) const = default;
};

std::vector<Got> ReadAll(std::string_view wire, size_t limit, size_t split) {
  CommandReader r(limit);
  std::vector<Got> out;
  for (size_t i = 0; i < wire.size(); i += split) {
    r.Feed(wire.substr(i, split));
    CommandReader::Line l;
    while (r.Next(&l)) out.push_back({std::string(l.text), l.bare_lf, l.too_long});
  }
  return out;
}

TEST(CommandReader, SplitsInAnyChunking) {
  struct { const char* name; std::string wire; size_t limit; std::vector<Got> lines; } cases[] = {
      {"pipelined", "EHLO a\r\nMAIL FROM:<>\r\nRCPT TO:<b@c>\r\nDATA\r\n", 64,
       {{"EHLO a", false, false}, {"MAIL FROM:<>", false, false}, {"RCPT TO:<b@c>", false, false},
        {"DATA", false, false}}},
      {"bare LF", "NOOP\nQUIT\r\n", 64, {{"NOOP", true, false}, {"QUIT", false, false}}},
      {"CR inside", "NO\rOP\r\n", 64, {{"NO\rOP", false, false}}},
      {"empty line", "\r\n", 64, {{"", false, false}}},
      {"incomplete", "QUIT", 64, {}},
      {"exactly the limit", "0123456789\r\nX\r\n", 10, {{"0123456789", false, false}, {"X", false, false}}},
      {"over the limit", "0123456789A\r\nX\r\n", 10, {{"0123456789", false, true}, {"X", false, false}}},
      {"far over the limit", std::string(100, 'y') + "\r\nQUIT\r\n", 10,
       {{"yyyyyyyyyy", false, true}, {"QUIT", false, false}}},
  };
  for (const auto& c : cases) {
    for (size_t split : {size_t(1), size_t(3), size_t(1000)})
      EXPECT_EQ(ReadAll(c.wire, c.limit, split), c.lines) << c.name << " split " << split;
  }
}

TEST(CommandReader, HandsContentToTheDecoderAndTakesCommandsBack) {
  CommandReader r;
  r.Feed("DATA\r\nSubject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n");
  CommandReader::Line l;
  ASSERT_TRUE(r.Next(&l));
  EXPECT_EQ(l.text, "DATA");
  DataDecoder d;
  std::string content;
  r.Consume(d.Feed(r.Rest(), &content));
  ASSERT_TRUE(d.done());
  EXPECT_EQ(content, "Subject: x\r\n\r\nbody\r\n");
  ASSERT_TRUE(r.Next(&l));
  EXPECT_EQ(l.text, "QUIT");
  EXPECT_EQ(r.pending(), 0u);
  r.Consume(100);  // more than there is: harmless
  EXPECT_EQ(r.pending(), 0u);
}

TEST(CommandReader, TrimGivesBackABigBufferOnlyWhenIdle) {
  CommandReader r;
  std::string batch;
  for (int i = 0; i < 1000; ++i) batch += "RCPT TO:<u" + std::to_string(i) + "@example.net>\r\n";
  r.Feed(batch + "NOOP");
  CommandReader::Line l;
  while (r.Next(&l)) {
  }
  r.Trim();  // "NOOP" still pending: kept, consumed bytes dropped
  EXPECT_EQ(r.Rest(), "NOOP");
  r.Feed("\r\n");
  ASSERT_TRUE(r.Next(&l));
  EXPECT_EQ(l.text, "NOOP");
  EXPECT_GT(r.capacity(), 1024u);
  r.Trim();
  EXPECT_EQ(r.pending(), 0u);
  EXPECT_LE(r.capacity(), 1024u);
  r.Feed("QUIT\r\n");
  ASSERT_TRUE(r.Next(&l));
  EXPECT_EQ(l.text, "QUIT");
}

}  // namespace
}  // namespace postern::smtp
