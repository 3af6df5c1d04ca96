// smtp/data_test.cc — the DATA decoder (smuggling cases, bare-LF modes,
// limits, every chunk split) and the dot-stuffer (round trips).
#include "postern/smtp/data.h"
#include "postern/smtp/filter_test_util.h"

#include <gtest/gtest.h>

#include <random>

namespace postern::smtp {
namespace {

struct Decoded {
  std::string out;
  size_t used = 0;
  bool done = false;
  bool bare_lf = false;
};

// Feeds `wire` in pieces of the given sizes (cycled); stops feeding at done().
Decoded Decode(std::string_view wire, DataDecoder::Options opt, const std::vector<size_t>& splits) {
  DataDecoder d(opt);
  Decoded r;
  size_t pos = 0, k = 0;
  while (pos < wire.size() && !d.done()) {
    size_t n = splits.empty() ? wire.size() : std::min(splits[k++ % splits.size()], wire.size() - pos);
    size_t used = d.Feed(wire.substr(pos, n), &r.out);
    EXPECT_TRUE(used == n || d.done());
    r.used += used;
    pos += n;
  }
  r.done = d.done();
  r.bare_lf = d.saw_bare_lf();
  return r;
}

DataDecoder::Options Mode(BareLf m) {
  DataDecoder::Options o;
  o.bare_lf = m;
  return o;
}

struct Case {
  const char* name;
  std::string wire;
  BareLf mode;
  bool done;
  std::string out;
  bool bare_lf;
};

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      {"initial dot", ".\r\n", BareLf::kNormalize, true, "", false},
      {"one line", "hello\r\n.\r\n", BareLf::kNormalize, true, "hello\r\n", false},
      {"empty first line", "\r\n.\r\n", BareLf::kNormalize, true, "\r\n", false},
      {"unstuffing", "a\r\n..b\r\n...\r\n..\r\n.\r\n", BareLf::kNormalize, true, "a\r\n.b\r\n..\r\n.\r\n", false},
      {"dot then text", "a\r\n.x\r\n.\r\n", BareLf::kNormalize, true, "a\r\nx\r\n", false},
      {"pipelined command after end", "x\r\n.\r\nQUIT\r\n", BareLf::kNormalize, true, "x\r\n", false},
      // SMTP smuggling: none of these may end the data.
      {"LF.LF", "a\n.\nMAIL FROM:<x@y>\r\n.\r\n", BareLf::kNormalize, true,
       "a\r\n\r\nMAIL FROM:<x@y>\r\n", true},
      {"CR.CR", "a\r.\rMAIL FROM:<x@y>\r\n.\r\n", BareLf::kNormalize, true,
       "a\r.\rMAIL FROM:<x@y>\r\n", false},
      {"CRLF.LF", "a\r\n.\nb\r\n.\r\n", BareLf::kNormalize, true, "a\r\n\r\nb\r\n", true},
      {"LF.CRLF", "a\n.\r\nb\r\n.\r\n", BareLf::kNormalize, true, "a\r\n\r\nb\r\n", true},
      {"CRLF.CR then CRLF", "a\r\n.\r\r\n.\r\n", BareLf::kNormalize, true, "a\r\n\r\r\n", false},
      {"CRLF.CRCRLF is no end", "a\r\n.\r\rb\r\n.\r\n", BareLf::kNormalize, true, "a\r\n\r\rb\r\n", false},
      {"LF.LF unterminated", "a\n.\n", BareLf::kNormalize, false, "a\r\n\r\n", true},
      {"CR.CR unterminated", "a\r.\r", BareLf::kNormalize, false, "a\r.\r", false},
      {"CRLF.LF unterminated", "a\r\n.\n", BareLf::kNormalize, false, "a\r\n\r\n", true},
      {"LF.CRLF unterminated", "a\n.\r\n", BareLf::kNormalize, false, "a\r\n\r\n", true},
      {"withheld CR", "a\r\n.\r", BareLf::kNormalize, false, "a\r\n", false},
      {"bare LF lines", "a\nb\n\r\n.\r\n", BareLf::kNormalize, true, "a\r\nb\r\n\r\n", true},
      {"reject marks", "a\nb\r\n.\r\n", BareLf::kReject, true, "a\r\nb\r\n", true},
      {"reject smuggle", "a\n.\nb\r\n.\r\n", BareLf::kReject, true, "a\r\n\r\nb\r\n", true},
      {"no: pass through", "a\n.\nb\r\n.\r\n", BareLf::kNo, true, "a\n.\nb\r\n", true},
      {"no: LF.CRLF is content", "a\n.\r\nb\r\n.\r\n", BareLf::kNo, true, "a\n.\r\nb\r\n", true},
      {"no: LF.LF unterminated", "a\n.\n", BareLf::kNo, false, "a\n.\n", true},
      {"no: dots after LF kept", "a\n..b\r\n.\r\n", BareLf::kNo, true, "a\n..b\r\n", true},
  };
  return cases;
}

TEST(DataDecoder, Table) {
  for (const auto& c : Cases()) {
    Decoded r = Decode(c.wire, Mode(c.mode), {});
    EXPECT_EQ(r.done, c.done) << c.name;
    EXPECT_EQ(r.out, c.out) << c.name;
    EXPECT_EQ(r.bare_lf, c.bare_lf) << c.name;
  }
}

TEST(DataDecoder, LeavesPipelinedBytesUnused) {
  Decoded r = Decode("x\r\n.\r\nQUIT\r\n", {}, {});
  EXPECT_EQ(r.used, 6u);
}

TEST(DataDecoder, EverySplitGivesTheSameResult) {
  std::mt19937 rng(5321);
  for (const auto& c : Cases()) {
    Decoded whole = Decode(c.wire, Mode(c.mode), {});
    // Byte by byte, then every two-piece split, then random splits.
    Decoded bytewise = Decode(c.wire, Mode(c.mode), {1});
    EXPECT_EQ(bytewise.out, whole.out) << c.name;
    EXPECT_EQ(bytewise.used, whole.used) << c.name;
    for (size_t cut = 1; cut < c.wire.size(); ++cut) {
      Decoded two = Decode(c.wire, Mode(c.mode), {cut, c.wire.size()});
      EXPECT_EQ(two.out, whole.out) << c.name << " cut " << cut;
      EXPECT_EQ(two.done, whole.done) << c.name << " cut " << cut;
    }
    for (int round = 0; round < 20; ++round) {
      std::vector<size_t> splits;
      for (int i = 0; i < 8; ++i) splits.push_back(1 + rng() % 5);
      Decoded rnd = Decode(c.wire, Mode(c.mode), splits);
      EXPECT_EQ(rnd.out, whole.out) << c.name;
      EXPECT_EQ(rnd.used, whole.used) << c.name;
      EXPECT_EQ(rnd.bare_lf, whole.bare_lf) << c.name;
    }
  }
}

TEST(DataDecoder, SizeLimitStopsStoringButFindsTheEnd) {
  DataDecoder::Options o;
  o.size_limit = 10;
  DataDecoder d(o);
  std::string out;
  d.Feed("0123456789\r\n0123456789\r\n.\r\n", &out);
  EXPECT_TRUE(d.done());
  EXPECT_TRUE(d.over_size());
  EXPECT_EQ(d.size(), 24u);
  EXPECT_LE(out.size(), 10u);
  DataDecoder exact(o);
  std::string out2;
  exact.Feed("01234567\r\n.\r\n", &out2);
  EXPECT_FALSE(exact.over_size());
  EXPECT_EQ(out2, "01234567\r\n");
}

TEST(DataDecoder, LongLines) {
  DataDecoder::Options o;
  o.line_limit = 10;
  struct { std::string wire; bool long_line; } cases[] = {
      {"0123456789\r\n.\r\n", false},
      {"01234567890\r\n.\r\n", true},
      {"0123456789\n.\r\n", false},
      {"01234567890\n.\r\n", true},
      {std::string(50, 'x'), true},  // detected before the line ends
      {"..23456789\r\n.\r\n", false},
  };
  for (const auto& c : cases) {
    for (size_t split : {size_t(1), size_t(3), c.wire.size()}) {
      DataDecoder d(o);
      std::string out;
      for (size_t i = 0; i < c.wire.size(); i += split) d.Feed(std::string_view(c.wire).substr(i, split), &out);
      EXPECT_EQ(d.long_line(), c.long_line) << c.wire << " split " << split;
    }
  }
}

TEST(DataDecoder, LongLineWithBareLfPassedThrough) {
  // With BareLf::kNo a bare LF does not end the line, so the line keeps growing.
  DataDecoder::Options o;
  o.line_limit = 10;
  o.bare_lf = BareLf::kNo;
  for (size_t split : {size_t(1), size_t(4), size_t(100)}) {
    DataDecoder d(o);
    std::string out, wire = "01234\n56789\n";
    for (size_t i = 0; i < wire.size(); i += split) d.Feed(std::string_view(wire).substr(i, split), &out);
    EXPECT_TRUE(d.long_line()) << split;
  }
}

TEST(DataDecoder, ResetForTheNextMessage) {
  DataDecoder d;
  std::string out;
  d.Feed("a\nb\r\n.\r\n", &out);
  ASSERT_TRUE(d.done());
  EXPECT_EQ(d.Feed("more", &out), 0u);  // nothing more is taken after the end
  d.Reset();
  EXPECT_FALSE(d.done());
  EXPECT_FALSE(d.saw_bare_lf());
  EXPECT_EQ(d.size(), 0u);
  out.clear();
  d.Feed(".\r\n", &out);
  EXPECT_TRUE(d.done());
  EXPECT_EQ(out, "");
}

std::string Stuff(std::string_view content, size_t chunk) {
  DotStuffer s;
  std::string wire;
  for (size_t i = 0; i < content.size(); i += chunk) s.Feed(content.substr(i, chunk), &wire);
  s.Finish(&wire);
  return wire;
}

TEST(DotStuffer, Table) {
  struct { std::string in, wire; } cases[] = {
      {"", ".\r\n"},
      {"a", "a\r\n.\r\n"},
      {"a\r\n", "a\r\n.\r\n"},
      {".a\r\n", "..a\r\n.\r\n"},
      {"a\r\n.\r\n", "a\r\n..\r\n.\r\n"},
      {"a\n.b", "a\r\n..b\r\n.\r\n"},   // bare LF leaves as CRLF
      {"a\r.b\r\n", "a\r.b\r\n.\r\n"},   // no line start after a bare CR
      {"a\r", "a\r\r\n.\r\n"},
      {"\n\n", "\r\n\r\n.\r\n"},
      {"..\r\n", "...\r\n.\r\n"},
  };
  for (const auto& c : cases) {
    for (size_t chunk : {size_t(1), size_t(2), size_t(1000)}) EXPECT_EQ(Stuff(c.in, chunk), c.wire) << c.in;
  }
}

TEST(DotStuffer, RoundTripThroughTheDecoder) {
  std::mt19937 rng(3030);
  const char alphabet[] = {'.', '.', '\r', '\n', 'a', ' ', 'x'};
  for (int round = 0; round < 3000; ++round) {
    std::string content;
    size_t len = rng() % 40;
    for (size_t i = 0; i < len; ++i) content.push_back(alphabet[rng() % sizeof alphabet]);
    std::string wire = Stuff(content, 1 + rng() % 7);
    for (BareLf mode : {BareLf::kNormalize, BareLf::kReject, BareLf::kNo}) {
      Decoded d = Decode(wire, Mode(mode), {1 + rng() % 9});
      ASSERT_TRUE(d.done) << content;
      ASSERT_EQ(d.used, wire.size()) << content;
      ASSERT_EQ(d.out, testing::Canonical(content)) << content;
      ASSERT_FALSE(d.bare_lf) << content;  // the stuffer never sends a bare LF
    }
  }
}

TEST(StrayFilter, Table) {
  using namespace std::string_literals;
  struct { const char* name; std::string in, out; uint64_t stray, nuls; } cases[] = {
      {"CRLF lines untouched", "a\r\nb\r\n", "a\r\nb\r\n", 0, 0},
      {"bare CR", "a\rb\r\n", "a b\r\n", 1, 0},
      {"bare LF", "a\nb\r\n", "a b\r\n", 1, 0},
      {"CR CR LF", "a\r\r\n", "a \r\n", 1, 0},
      {"LF CR", "a\n\rb\r\n", "a  b\r\n", 2, 0},
      {"smuggling \\r.\\r", "x\r.\rmore\r\n", "x . more\r\n", 2, 0},
      {"smuggling \\r.\\r\\n", "x\r.\r\nMAIL FROM:<a>\r\n", "x .\r\nMAIL FROM:<a>\r\n", 1, 0},
      {"smuggling \\r\\n\\0.\\r\\n", "x\r\n\0.\r\nRCPT\r\n"s, "x\r\n .\r\nRCPT\r\n", 0, 1},
      {"NULs", "a\0\0b\r\n"s, "a  b\r\n", 0, 2},
      {"CR at the very end", "a\r", "a ", 1, 0},
      {"8-bit bytes pass", "\xc3\xa9\x01\x0c\r\n", "\xc3\xa9\x01\x0c\r\n", 0, 0},
  };
  for (const auto& c : cases) {
    for (size_t chunk : {size_t(1), size_t(2), size_t(3), size_t(4096)}) {
      StrayFilter f;
      EXPECT_EQ(testing::Chunked(c.in, chunk, &f), c.out) << c.name << " chunk " << chunk;
      EXPECT_EQ(f.stray(), c.stray) << c.name << " chunk " << chunk;
      EXPECT_EQ(f.nuls(), c.nuls) << c.name << " chunk " << chunk;
    }
  }
}

TEST(StrayFilter, OffKeepsCrAndLfButNotNul) {
  using namespace std::string_literals;
  StrayFilter f(false);
  EXPECT_EQ(testing::Chunked("a\rb\nc\0\r\n"s, 2, &f), "a\rb\nc \r\n");
  EXPECT_EQ(f.stray(), 0u);
  EXPECT_EQ(f.nuls(), 1u);
}

TEST(StrayFilter, NothingBareLeavesAfterDecoding) {
  std::mt19937 rng(4040);
  const char alphabet[] = {'.', '\r', '\n', '\0', 'a'};
  for (int round = 0; round < 3000; ++round) {
    std::string wire;
    size_t len = rng() % 40;
    for (size_t i = 0; i < len; ++i) wire.push_back(alphabet[rng() % sizeof alphabet]);
    wire += "\r\n.\r\n";
    for (BareLf mode : {BareLf::kNormalize, BareLf::kNo}) {
      Decoded d = Decode(wire, Mode(mode), {1 + rng() % 9});
      StrayFilter f;
      std::string out = testing::Chunked(d.out, 1 + rng() % 5, &f);
      ASSERT_EQ(out.size(), d.out.size());
      for (size_t i = 0; i < out.size(); ++i) {
        ASSERT_NE(out[i], '\0');
        if (out[i] == '\r') ASSERT_TRUE(i + 1 < out.size() && out[i + 1] == '\n') << i;
        if (out[i] == '\n') ASSERT_TRUE(i > 0 && out[i - 1] == '\r') << i;
      }
    }
  }
}

}  // namespace
}  // namespace postern::smtp
