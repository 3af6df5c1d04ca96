// table/pattern_test.cc — regexp_table(5)/pcre_table(5) syntax, flags,
// if/endif, substitution, warnings with line numbers and PCRE2 match limits.
#include "postern/table/pattern.h"

#include <gtest/gtest.h>

#include "postern/table/table.h"
#include "postern/table/test_util.h"

namespace postern::table {
namespace {

PatternRules Rules(std::string_view text, Dialect d, std::vector<std::string>* warnings = nullptr) {
  std::vector<std::string> local;
  auto r = PatternRules::Parse(text, "/etc/t", d, warnings ? warnings : &local);
  EXPECT_TRUE(r.ok()) << r.error();
  return r.ok() ? std::move(*r) : PatternRules();
}

std::string Get(const PatternRules& rules, std::string_view key) {
  auto r = rules.Match(key);
  if (!r) return "error: " + r.error();
  return r->value_or("(none)");
}

struct Case {
  Dialect dialect;
  const char* table;
  const char* key;
  const char* want;
};

TEST(Pattern, MatchesAndSubstitutes) {
  constexpr auto R = Dialect::kRegexp;
  constexpr auto P = Dialect::kPcre;
  const Case cases[] = {
      // first match wins; the whole key is the subject
      {R, "/^a/ first\n/^ab/ second\n", "abc", "first"},
      {P, "/^a/ first\n/^ab/ second\n", "abc", "first"},
      {R, "/^b/ x\n", "abc", "(none)"},
      // case-insensitive by default; the i flag toggles it off
      {R, "/^USER@/ yes\n", "user@example", "yes"},
      {R, "/^USER@/i yes\n", "user@example", "(none)"},
      {P, "/^USER@/ yes\n", "user@example", "yes"},
      {P, "/^USER@/i yes\n", "user@example", "(none)"},
      // substitution: $n, ${n}, $(n), $$, groups that took no part
      {R, "/^(.*)@(.*)$/ 550 $1 at ${2}x $$5\n", "joe@host", "550 joe at hostx $5"},
      {P, "/^(.*)@(.*)$/ REJECT $(2) for $1\n", "joe@host", "REJECT host for joe"},
      {P, "/^(a)|(b)$/ [$1][$2]\n", "b", "[][b]"},
      {P, "/^(?<u>[^@]+)@/ $1.\n", "Mixed@x", "Mixed."},
      // negation
      {R, "!/example\\.com$/ OK\n", "a@example.org", "OK"},
      {R, "!/example\\.com$/ OK\n", "a@example.com", "(none)"},
      // any delimiter; an escaped delimiter is part of the regex
      {R, "%a/b% slash\n", "xa/b", "slash"},
      {P, "/a\\/b/ slash\n", "xa/b", "slash"},
      // dialects differ: POSIX has no \d, PCRE has
      {P, "/^\\d+$/ digits\n", "123", "digits"},
      {R, "/^[[:digit:]]+$/ digits\n", "123", "digits"},
      // pcre flags
      {P, "/a.b/ no\n/a.b/s yes\n", "a\nb", "yes"},
      {P, "/^b$/ no\n/^b$/m yes\n", "a\nb", "yes"},
      {P, "/a b c/x spaced\n", "abc", "spaced"},
      {P, "/b/A anchored\n/b/ any\n", "ab", "any"},
      {P, "/a$/E endonly\n/a$/ dollar\n", "a\n", "dollar"},
      {P, "/<(.+)>/U $1\n", "<a><b>", "a"},
      {P, "/^x/X x\n", "xy", "x"},
      // regexp flags: x turns extended syntax off (basic: \( \) group)
      {R, "/^\\(a\\)*$/x basic:$1\n", "aa", "basic:a"},
      {R, "/^b$/ no\n/^b$/m yes\n", "a\nb", "yes"},
      // if/endif, nested, negated
      {R, "if /@example\\.com$/\n/^a@/ A\nendif\n/^a@/ B\n", "a@example.com", "A"},
      {R, "if /@example\\.com$/\n/^a@/ A\nendif\n/^a@/ B\n", "a@other.org", "B"},
      {P, "if /^a/\nif !/b/\n/./ no-b\nendif\n/./ has-b\nendif\n", "ac", "no-b"},
      {P, "if /^a/\nif !/b/\n/./ no-b\nendif\n/./ has-b\nendif\n", "ab", "has-b"},
      {P, "IF /^z/\n/./ z\nENDIF\n/./ other\n", "ab", "other"},
      // comments and continuation lines
      {R, "# comment\n/^a/\n  joined\n    result\n", "a", "joined result"},
      {P, "/^a/   spaced   result  \n", "a", "spaced   result"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Get(Rules(c.table, c.dialect), c.key), c.want)
        << (c.dialect == Dialect::kPcre ? "pcre " : "regexp ") << c.table << " key " << c.key;
  }
}

struct BadCase {
  Dialect dialect;
  const char* table;
  const char* warning;  // part of the one expected warning
};

TEST(Pattern, BadLinesAreSkippedWithFileAndLine) {
  constexpr auto R = Dialect::kRegexp;
  constexpr auto P = Dialect::kPcre;
  const BadCase cases[] = {
      {R, "/ok/ 1\n/a(/ bad\n", "regexp map /etc/t, line 2: "},
      {P, "/ok/ 1\n/a(/ bad\n", "pcre map /etc/t, line 2: error in regex at offset"},
      {R, "/a/q x\n", "line 1: unknown regexp option \"q\""},
      {R, "/a/s x\n", "unknown regexp option \"s\""},  // pcre's flag, not regexp's
      {P, "/a/z x\n", "unknown regexp option \"z\""},
      {R, "/abc x\n", "no closing regexp delimiter \"/\""},
      {R, "/(a)/ $2\n", "out of range replacement index \"2\""},
      {P, "/(a)/ $1x\n", "bad replacement syntax"},
      {P, "/(a)/ ${1\n", "bad replacement syntax"},
      {R, "!/(a)/ $1\n", "$number found in negative match replacement text"},
      {R, "\n\nendif\n", "line 3: ignoring ENDIF without matching IF"},
      {P, "/x/ 1\nif /a/\n/b/ c\n", "line 2: IF has no matching ENDIF"},
      {R, "if /a/ junk\n/./ x\nendif\n", "line 1: garbage after IF pattern"},
      {P, "/\\q/ x\n", "error in regex"},  // PCRE2: unknown escapes are errors
      {R, "/a/\n", "line 1: no replacement text: using empty string"},
      {R, "abc x\n", "bad regexp delimiter \"a\""},
  };
  for (const BadCase& c : cases) {
    std::vector<std::string> warnings;
    Rules(c.table, c.dialect, &warnings);
    ASSERT_EQ(warnings.size(), 1u) << c.table;
    EXPECT_NE(warnings[0].find(c.warning), std::string::npos) << c.table << ": " << warnings[0];
  }
}

TEST(Pattern, SkippedRulesLeaveTheOthers) {
  std::vector<std::string> warnings;
  auto rules = Rules("/a(/ bad\n/^a/ good\n", Dialect::kRegexp, &warnings);
  EXPECT_EQ(rules.size(), 1u);
  EXPECT_EQ(Get(rules, "a"), "good");
  // A broken IF keeps its block closed instead of opening it to every key.
  rules = Rules("if /a(/\n/./ inside\nendif\n/./ outside\n", Dialect::kPcre, &warnings);
  EXPECT_EQ(Get(rules, "a"), "outside");
}

TEST(Pattern, PcreMatchLimitIsALookupError) {
  auto rules = Rules("/^(a+)+$/ spin\n/./ never-reached\n", Dialect::kPcre);
  std::string key(40, 'a');
  key += 'b';
  auto r = rules.Match(key);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("pcre map /etc/t, line 1: matching error"), std::string::npos) << r.error();
  EXPECT_EQ(Get(rules, "aaa"), "spin");
}

TEST(Pattern, RuleCountIsBounded) {
  std::string text;
  for (size_t i = 0; i <= kMaxPatternRules; ++i) text += "/a/ x\n";
  std::vector<std::string> warnings;
  auto r = PatternRules::Parse(text, "/etc/big", Dialect::kRegexp, &warnings);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("more than"), std::string::npos);
}

TEST(Pattern, TablesOpenReloadAndKeepKeyCase) {
  testing::TempDir dir;
  std::string path = dir.Write("access.pcre", "/^(.*)@Example\\.com$/ hello $1\n");
  Options o;
  o.recheck = std::chrono::milliseconds(0);
  auto t = Open("pcre:" + path, o);
  ASSERT_TRUE(t.ok()) << t.error();
  EXPECT_TRUE((*t)->pattern());
  auto r = (*t)->Lookup("MiXed@example.COM");
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ(**r, "hello MiXed");
  dir.Write("access.pcre", "/^(.*)@example\\.com$/ bye $1 again\n");
  r = (*t)->Lookup("joe@example.com");
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ(**r, "bye joe again");
  auto re = Open("regexp:" + dir.Write("r", "/^a/ A\n"), o);
  ASSERT_TRUE(re.ok()) << re.error();
  EXPECT_FALSE(Open("regexp:" + dir.File("missing"), o).ok());
  EXPECT_FALSE(Open("pcre:relative", o).ok());
}

TEST(Pattern, SearchesGivePatternTablesWholeKeysOnly) {
  testing::TempDir dir;
  // Matches every key: only the keys actually asked show up in the result.
  auto list = TableList::Open("regexp:" + dir.Write("all", "/^(.*)$/ $1\n"));
  ASSERT_TRUE(list.ok()) << list.error();
  auto r = LookupAddress(*list, "user+ext@a.example", {"+"});
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ(**r, "user+ext@a.example");
  auto none = TableList::Open("regexp:" + dir.Write("dom", "/^a\\.example$/ domain\n/^user@$/ user\n"));
  ASSERT_TRUE(none.ok());
  r = LookupAddress(*none, "user@a.example");
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ(**r, "domain");
  r = LookupAddress(*none, "user@b.a.example");  // no parent domain, no user@
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  r = LookupClient(*list, "host.example", "192.0.2.1");
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ(**r, "host.example");
  auto addr_only = TableList::Open("pcre:" + dir.Write("ip", "/^192\\.0\\.2$/ prefix\n"));
  ASSERT_TRUE(addr_only.ok());
  r = LookupClient(*addr_only, "unknown", "192.0.2.1");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

}  // namespace
}  // namespace postern::table
