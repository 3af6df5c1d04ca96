// util/strings_test.cc — table tests for the string helpers.
#include "postern/util/strings.h"

#include <gtest/gtest.h>

namespace postern {
namespace {

TEST(Strings, Trim) {
  struct { const char* in; const char* out; } cases[] = {
      {"", ""}, {"  a ", "a"}, {"\ta b\r\n", "a b"}, {"x", "x"}};
  for (auto& c : cases) EXPECT_EQ(Trim(c.in), c.out) << c.in;
}

TEST(Strings, SplitListUsesCommaAndWhiteSpace) {
  EXPECT_EQ(SplitList("a, b c,,d"), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_TRUE(SplitList(" , ").empty());
  EXPECT_EQ(SplitList("inline:{ a=b, c=d }, x"),
            (std::vector<std::string>{"inline:{ a=b, c=d }", "x"}));
}

TEST(Strings, ParseUnsigned) {
  unsigned long long v = 0;
  EXPECT_TRUE(ParseUnsigned("123", &v));
  EXPECT_EQ(v, 123u);
  EXPECT_FALSE(ParseUnsigned("", &v));
  EXPECT_FALSE(ParseUnsigned("-1", &v));
  EXPECT_FALSE(ParseUnsigned("12x", &v));
  EXPECT_FALSE(ParseUnsigned("99999999999999999999999", &v));
}

TEST(Strings, CaseInsensitive) {
  EXPECT_TRUE(EqualsIgnoreCase("EHLO", "ehlo"));
  EXPECT_FALSE(EqualsIgnoreCase("EHLO", "ehl"));
  EXPECT_EQ(ToLower("MiXeD"), "mixed");
}

TEST(Strings, JsonStringEscapesWhatJsonNeeds) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"", R"("")"},
      {"a\"b\\c", R"("a\"b\\c")"},
      {"tab\there\r\n", R"("tab\u0009here\u000d\u000a")"},
      {"caf\xc3\xa9", "\"caf\xc3\xa9\""},      // valid UTF-8 stays as it is
      {"caf\xe9", R"("caf\u00e9")"},             // a Latin-1 byte is escaped
      {std::string_view("n\0ul", 4), R"("n\u0000ul")"},
  };
  for (auto [in, want] : cases) EXPECT_EQ(JsonString(in), want) << in;
}

TEST(Strings, IsValidUtf8RejectsOverlongsAndSurrogates) {
  EXPECT_TRUE(IsValidUtf8("plain \xc3\xa9 \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // a surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));          // cut short
}

}  // namespace
}  // namespace postern
