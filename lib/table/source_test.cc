// table/source_test.cc — postmap and aliases(5) text syntax.
#include "postern/table/source.h"

#include <gtest/gtest.h>

namespace postern::table {
namespace {

struct Case {
  std::string text;
  Syntax syntax;
  bool fold;
  std::vector<std::pair<std::string, std::string>> want;
  size_t warnings;
};

TEST(Source, ParsesTable) {
  const Case cases[] = {
      {"Key Value\n", Syntax::kMap, true, {{"key", "Value"}}, 0},
      {"Key Value\n", Syntax::kMap, false, {{"Key", "Value"}}, 0},
      {"a  b c \n# comment\n\n  # indented comment\nd\te\n", Syntax::kMap, true,
       {{"a", "b c"}, {"d", "e"}}, 0},
      {"a first\n  second\n\tthird\nb x\n", Syntax::kMap, true, {{"a", "first second third"}, {"b", "x"}}, 0},
      {"lonely\nok yes\n", Syntax::kMap, true, {{"ok", "yes"}}, 1},
      {"a b\r\nc d\r\n", Syntax::kMap, true, {{"a", "b"}, {"c", "d"}}, 0},
      {"root: admin, bob\n", Syntax::kAlias, true, {{"root", "admin, bob"}}, 0},
      {"Post:master: x\n", Syntax::kAlias, true, {{"post", "master: x"}}, 0},
      {"list: a,\n  b,\n  |\"/bin/cmd arg\"\n", Syntax::kAlias, true,
       {{"list", "a, b, |\"/bin/cmd arg\""}}, 0},
      {"inc: :include:/etc/list\nf: /var/log/file\n", Syntax::kAlias, true,
       {{"inc", ":include:/etc/list"}, {"f", "/var/log/file"}}, 0},
      {"\"two words\": x\n", Syntax::kAlias, true, {{"two words", "x"}}, 0},
      {"no colon here\nempty:\nok: y\n", Syntax::kAlias, true, {{"ok", "y"}}, 2},
      {std::string(600, 'k') + " v\n", Syntax::kMap, true, {}, 1},
  };
  for (const Case& c : cases) {
    auto p = ParseSource(c.text, "src", c.syntax, c.fold);
    ASSERT_TRUE(p.ok()) << c.text;
    std::vector<std::pair<std::string, std::string>> got;
    for (const Entry& e : p->entries) got.emplace_back(e.key, e.value);
    EXPECT_EQ(got, c.want) << c.text;
    EXPECT_EQ(p->warnings.size(), c.warnings) << c.text;
  }
}

TEST(Source, WarningsNameFileAndLine) {
  auto p = ParseSource("a b\n\nlonely\n", "/etc/t", Syntax::kMap, true);
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->warnings.size(), 1u);
  EXPECT_EQ(p->warnings[0], "/etc/t, line 3: expected format: key whitespace value");
  EXPECT_EQ(p->entries[0].line, 1);
}

TEST(Source, ContinuationFirstIsError) {
  EXPECT_FALSE(ParseSource("  a b\n", "t", Syntax::kMap, true).ok());
}

TEST(Source, Duplicates) {
  auto make = [] {
    return std::vector<Entry>{{"a", "1", 1}, {"b", "2", 2}, {"a", "3", 3}, {"a", "4", 4}};
  };
  struct {
    Duplicates mode;
    std::vector<std::string> values;
    size_t warnings;
  } cases[] = {{Duplicates::kWarn, {"1", "2"}, 2},
               {Duplicates::kIgnore, {"1", "2"}, 0},
               {Duplicates::kReplace, {"2", "4"}, 0}};
  for (const auto& c : cases) {
    auto e = make();
    std::vector<std::string> w;
    ResolveDuplicates(&e, c.mode, "f", &w);
    std::vector<std::string> values;
    for (const Entry& x : e) values.push_back(x.value);
    EXPECT_EQ(values, c.values);
    EXPECT_EQ(w.size(), c.warnings);
  }
  auto e = make();
  std::vector<std::string> w;
  ResolveDuplicates(&e, Duplicates::kWarn, "f", &w);
  EXPECT_EQ(w[0], "f, line 3: duplicate entry: \"a\"");
}

}  // namespace
}  // namespace postern::table
