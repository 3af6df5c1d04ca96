// util/strings_test.cc — table tests for the string helpers.
#include "util/strings.h"

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

}  // namespace
}  // namespace postern
