// config/maincf_edit_test.cc — postconf -e/-X/-# edits of main.cf text:
// table-driven cases that pin what survives (comments, order) and what changes.
#include "postern/config/maincf_edit.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace postern::config {
namespace {

using Items = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kFile =
    "# main.cf of a test\n"
    "myhostname = old.example\n"
    "\n"
    "mydestination = a,\n"
    "    b\n"
    "  # inside\n"
    "    c\n"
    "# trailing comment\n"
    "relayhost = [gw]\n";

TEST(MainCfEdit, Cases) {
  struct Case {
    const char* what;
    MainEditOp op;
    Items items;
    const char* want;
  } cases[] = {
      {"replace keeps comments and order", MainEditOp::kSet, {{"myhostname", "mx.example.test"}},
       "# main.cf of a test\nmyhostname = mx.example.test\n\nmydestination = a,\n    b\n"
       "  # inside\n    c\n# trailing comment\nrelayhost = [gw]\n"},
      {"replace takes the continuation lines too", MainEditOp::kSet, {{"mydestination", "x"}},
       "# main.cf of a test\nmyhostname = old.example\n\nmydestination = x\n"
       "# trailing comment\nrelayhost = [gw]\n"},
      {"new names go to the end in the given order", MainEditOp::kSet,
       {{"zeta", "1"}, {"alpha", "2"}, {"relayhost", ""}},
       "# main.cf of a test\nmyhostname = old.example\n\nmydestination = a,\n    b\n"
       "  # inside\n    c\n# trailing comment\nrelayhost =\nzeta = 1\nalpha = 2\n"},
      {"delete drops the whole logical line", MainEditOp::kDelete, {{"mydestination", ""}},
       "# main.cf of a test\nmyhostname = old.example\n\n# trailing comment\nrelayhost = [gw]\n"},
      {"delete of an absent name changes nothing", MainEditOp::kDelete, {{"nothere", ""}}, kFile},
      {"comment out prefixes each line with #", MainEditOp::kComment, {{"mydestination", ""}},
       "# main.cf of a test\nmyhostname = old.example\n\n#mydestination = a,\n#    b\n"
       "  # inside\n#    c\n# trailing comment\nrelayhost = [gw]\n"},
      {"comment out as Postfix: #name = value", MainEditOp::kComment, {{"relayhost", ""}},
       "# main.cf of a test\nmyhostname = old.example\n\nmydestination = a,\n    b\n"
       "  # inside\n    c\n# trailing comment\n#relayhost = [gw]\n"},
  };
  for (const Case& c : cases) {
    auto r = EditMainCf(kFile, c.op, c.items);
    ASSERT_TRUE(r.ok()) << c.what << ": " << r.error();
    EXPECT_EQ(r->text, c.want) << c.what;
    EXPECT_TRUE(r->warnings.empty()) << c.what;
  }
}

TEST(MainCfEdit, EdgeCases) {
  struct Case {
    const char* what;
    const char* text;
    Items items;
    const char* want;
  } cases[] = {
      {"empty file", "", {{"a", "1"}}, "a = 1\n"},
      {"no final newline", "a = 1", {{"b", "2"}}, "a = 1\nb = 2\n"},
      {"spaces around = in the file", "a=1\nb  =  2\n", {{"a", "3"}}, "a = 3\nb  =  2\n"},
      {"same name twice on the command line: last wins", "", {{"a", "1"}, {"a", "2"}}, "a = 2\n"},
      {"names are whole words", "ab = 1\na = 2\n", {{"a", "3"}}, "ab = 1\na = 3\n"},
  };
  for (const Case& c : cases) {
    auto r = EditMainCf(c.text, MainEditOp::kSet, c.items);
    ASSERT_TRUE(r.ok()) << c.what << ": " << r.error();
    EXPECT_EQ(r->text, c.want) << c.what;
  }
}

TEST(MainCfEdit, DuplicatesAreAllReplacedWithAWarning) {
  auto r = EditMainCf("a = 1\nb = 2\na = 3\n", MainEditOp::kSet, {{"a", "9"}}, "/etc/x/main.cf");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->text, "a = 9\nb = 2\na = 9\n");
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_EQ(r->warnings[0], "/etc/x/main.cf: multiple entries for \"a\"");
}

TEST(MainCfEdit, Errors) {
  struct Case {
    Items items;
    const char* error;
  } cases[] = {
      {{{"bad-name", "1"}}, "bad parameter name: \"bad-name\""},
      {{{"", "1"}}, "bad parameter name: \"\""},
      {{{"a", "x\ny = 2"}}, "parameter a: value must be one line"},
  };
  for (const Case& c : cases) {
    auto r = EditMainCf("a = 1\n", MainEditOp::kSet, c.items);
    ASSERT_FALSE(r.ok()) << c.error;
    EXPECT_EQ(r.error(), c.error);
  }
}

TEST(MainCfEdit, SplitNameValue) {
  struct Case {
    const char* arg;
    bool ok;
    const char* name;
    const char* value;
  } cases[] = {
      {"myhostname=mx.example.test", true, "myhostname", "mx.example.test"},
      {" a = b c ", true, "a", "b c"},
      {"a=", true, "a", ""},
      {"a=b=c", true, "a", "b=c"},
      {"novalue", false, "", ""},
      {"x y=1", false, "", ""},
  };
  for (const Case& c : cases) {
    auto r = SplitNameValue(c.arg);
    ASSERT_EQ(r.ok(), c.ok) << c.arg;
    if (!c.ok) continue;
    EXPECT_EQ(r->first, c.name);
    EXPECT_EQ(r->second, c.value);
  }
}

TEST(MainCfEdit, ConfigTextEntries) {
  ConfigText t("  orphan\n# c\na = 1\n  2\n\nb = 3\n");
  ASSERT_EQ(t.entries().size(), 2u);
  EXPECT_EQ(t.entries()[0].first, 2u);
  EXPECT_EQ(t.entries()[0].last, 3u);
  EXPECT_EQ(t.entries()[0].logical, "a = 1 2");
  EXPECT_EQ(t.entries()[1].logical, "b = 3");
  EXPECT_EQ(t.Render(), "  orphan\n# c\na = 1\n  2\n\nb = 3\n");
}

TEST(MainCfEdit, ReplaceFileAtomicallyKeepsModeAndLeavesNoTemp) {
  char tmpl[] = "/tmp/maincf_edit_testXXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl, path = dir + "/main.cf";
  ASSERT_TRUE(ReplaceFileAtomically(path, "a = 1\n").ok());
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  ASSERT_TRUE(ReplaceFileAtomically(path, "a = 2\n").ok());
  auto text = ReadTextFile(path);
  ASSERT_TRUE(text.ok()) << text.error();
  EXPECT_EQ(*text, "a = 2\n");
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  size_t files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) files += e.is_regular_file();
  EXPECT_EQ(files, 1u);
  std::filesystem::remove_all(dir);
  auto missing = ReadTextFile(dir + "/main.cf");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error(), "open " + dir + "/main.cf: No such file or directory");
}

}  // namespace
}  // namespace postern::config
