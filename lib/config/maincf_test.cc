// config/maincf_test.cc — main.cf syntax and Postfix's expansion rules,
// table-driven, with the examples of Postfix's postconf(5).
#include "postern/config/maincf.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <algorithm>
#include <fstream>

namespace postern::config {
namespace {

Config MustParse(std::string_view text) {
  auto c = Config::Parse(text);
  EXPECT_TRUE(c.ok()) << c.error();
  return c.ok() ? *c : Config();
}

TEST(MainCf, SyntaxCommentsAndContinuation) {
  Config c = MustParse(
      "# a comment\n"
      "\n"
      "myhostname = mx.example.test\n"
      "mydestination = a,\n"
      "    b\n"
      "  # a comment inside a continuation is dropped\n"
      "\tc\n"
      "empty =\n"
      "spaces=   x y   \n");
  EXPECT_EQ(*c.Raw("myhostname"), "mx.example.test");
  EXPECT_EQ(*c.Raw("mydestination"), "a, b c");
  EXPECT_EQ(*c.Raw("empty"), "");
  EXPECT_EQ(*c.Raw("spaces"), "x y");
  EXPECT_EQ(c.assignments().size(), 4u);
  EXPECT_EQ(c.assignments()[1].line, 4);
}

TEST(MainCf, LastAssignmentWins) {
  Config c = MustParse("a = 1\na = 2\n");
  EXPECT_EQ(*c.Get("a"), "2");
}

TEST(MainCf, MailVersionIsReadOnly) {
  Config c = MustParse("mail_version = 9.9\nx = $mail_version\n");
  EXPECT_EQ(c.Str("mail_version"), POSTERN_VERSION_FOR_TEST);
  EXPECT_EQ(c.Str("x"), POSTERN_VERSION_FOR_TEST);
  bool warned = false;
  for (const auto& p : c.Validate()) warned |= p.warning && p.text.find("mail_version is read-only") != p.text.npos;
  EXPECT_TRUE(warned);
}

TEST(MainCf, SyntaxErrorsNameFileAndLine) {
  struct { const char* text; const char* error; } cases[] = {
      {"a = 1\nfoo\n", "main.cf, line 2: missing '=' after parameter name: \"foo\""},
      {"  x = 1\n", "main.cf, line 1: continuation line follows nothing"},
      {"bad-name = 1\n", "main.cf, line 1: bad parameter name: \"bad-name\""},
      {"= 1\n", "main.cf, line 1: bad parameter name: \"\""},
  };
  for (auto& t : cases) {
    auto c = Config::Parse(t.text);
    ASSERT_FALSE(c.ok()) << t.text;
    EXPECT_NE(c.error().find(t.error), std::string::npos) << c.error();
  }
}

TEST(MainCf, Expansion) {
  Config c = MustParse(
      "myhostname = mx.example.test\n"
      "mydomain = example.test\n"
      "set = yes\n"
      "unset =\n"
      "nested = $myhostname/$mydomain\n"
      "deep = <$nested>\n");
  struct { const char* expr; const char* want; } cases[] = {
      {"$myhostname", "mx.example.test"},
      {"${myhostname}", "mx.example.test"},
      {"$(myhostname)", "mx.example.test"},
      {"x$myhostname.y", "xmx.example.test.y"},
      {"$deep", "<mx.example.test/example.test>"},
      {"${set?value}", "value"},
      {"${unset?value}", ""},
      {"${set:value}", ""},
      {"${unset:value}", "value"},
      {"$(unset:value)", "value"},
      {"${set?{a b}:{c d}}", "a b"},
      {"${unset?{a b}:{c d}}", "c d"},
      {"${set?{$mydomain}}", "example.test"},
      {"${unset:{x, y}}", "x, y"},
      {"${set?$myhostname}", "mx.example.test"},
      {"$$", "$"},
      {"$$myhostname", "$myhostname"},
      {"cost: 5$", "cost: 5$"},
      {"$undefined_parameter", ""},
      {"${undefined?x}", ""},
      {"${undefined:x}", "x"},
      // Postfix 3.0 comparisons.
      {"${{$set} == {yes} ? {on} : {off}}", "on"},
      {"${{$unset} == {yes} ? {on} : {off}}", "off"},
      {"${{$mydomain} != {example.test}?{differs}:{same}}", "same"},
      {"${{$set} == {yes} ? {$myhostname}}", "mx.example.test"},
      {"${{$unset} == {yes} ? {x}}", ""},
      {"${{10} < {9} ? {lt} : {ge}}", "ge"},
      {"${{9} <= {9} ? {le} : {gt}}", "le"},
  };
  for (auto& t : cases) {
    auto r = c.Expand(t.expr);
    ASSERT_TRUE(r.ok()) << t.expr << ": " << r.error();
    EXPECT_EQ(*r, t.want) << t.expr;
  }
}

TEST(MainCf, DefaultsComeFromTheRegistryAndExpand) {
  Config c = MustParse("myhostname = mx.example.test\n");
  EXPECT_EQ(*c.Raw("myorigin"), "$myhostname");
  EXPECT_EQ(*c.Get("myorigin"), "mx.example.test");
  EXPECT_EQ(*c.Get("smtpd_banner"), "mx.example.test ESMTP postern");
  EXPECT_EQ(*c.Get("syslog_name"), "postern");
  Config d = MustParse("multi_instance_name = postern-out\n");
  EXPECT_EQ(*d.Get("syslog_name"), "postern-out");
}

TEST(MainCf, MyoriginMayNameAFileWhoseFirstWordIsTheDomain) {
  std::string file = ::testing::TempDir() + "/mailname";
  std::ofstream(file) << "  example.org trailing words\nsecond.line\n";
  Config c = MustParse("myorigin = " + file + "\nmyhostname = mx.example.test\n");
  EXPECT_EQ(*c.Raw("myorigin"), file);
  EXPECT_EQ(*c.Get("myorigin"), "example.org");
  EXPECT_EQ(*c.Expand("user@$myorigin"), "user@example.org");
  Config missing = MustParse("myorigin = /nonexistent/mailname\n");
  auto r = missing.Get("myorigin");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "main.cf: parameter myorigin: open /nonexistent/mailname: No such file or directory");
  auto problems = missing.Validate();
  EXPECT_TRUE(std::any_of(problems.begin(), problems.end(), [&](auto& p) { return p.text == r.error(); }));
  std::ofstream(file, std::ios::trunc) << "\n";
  EXPECT_EQ(c.Get("myorigin").error(), "main.cf: parameter myorigin: no domain name in " + file);
  // Other parameters keep a leading slash as it is.
  EXPECT_EQ(*MustParse("mydomain = /x\n").Get("mydomain"), "/x");
}

TEST(MainCf, ExpansionErrors) {
  Config c = MustParse(
      "a = $b\n"
      "b = ${c}\n"
      "c = x $a\n"
      "self = $self\n"
      "myhostname = $myorigin\n");
  struct { const char* name; const char* error; } cases[] = {
      {"a", "parameter expansion loop: a -> b -> c -> a"},
      {"self", "parameter expansion loop: self -> self"},
      {"myorigin", "parameter expansion loop: myorigin -> myhostname -> myorigin"},
  };
  for (auto& t : cases) {
    auto r = c.Get(t.name);
    ASSERT_FALSE(r.ok()) << t.name;
    EXPECT_NE(r.error().find(t.error), std::string::npos) << r.error();
    EXPECT_NE(r.error().find("main.cf: parameter"), std::string::npos) << r.error();
  }
  const char* bad[] = {"${unclosed", "$(unclosed", "${a!x}", "${?x}", "${a?{x}:y}", "${a?{x}:{y}z}",
                       "${{a} = {b} ? {x}}", "${{a} == {b}}", "${{a} == {b} ? {x} : y}", "${{a} < {1} ? {x}}",
                       "${{a} == {b} ? {x} : {y} z}"};
  for (const char* e : bad) EXPECT_FALSE(Config().Expand(e).ok()) << e;
}

TEST(MainCf, OverridesWin) {
  Config c = MustParse("smtpd_banner = from file\n");
  c.Override("smtpd_banner", "from -o");
  EXPECT_EQ(*c.Get("smtpd_banner"), "from -o");
  EXPECT_TRUE(c.IsSet("max_idle") == false);
}

TEST(MainCf, TypedAccessors) {
  Config c = MustParse(
      "max_idle = 2s\n"
      "maximal_queue_lifetime = 3\n"
      "delay_warning_time = 4h\n"
      "message_size_limit = 10m\n"
      "smtpd_helo_required = YES\n"
      "mydestination = a, b c\n"
      "transport_maps = lmdb:/etc/t, inline:{ a=b, c=d }\n");
  EXPECT_EQ(c.GetTime("max_idle")->count(), 2);
  EXPECT_EQ(c.GetTime("maximal_queue_lifetime")->count(), 3 * 86400);  // bare number: days
  EXPECT_EQ(c.Time("delay_warning_time").count(), 4 * 3600);
  EXPECT_EQ(c.Time("max_use").count(), 100);  // via default, same parser
  EXPECT_EQ(*c.GetSize("message_size_limit"), 10u << 20);
  EXPECT_TRUE(*c.GetBool("smtpd_helo_required"));
  EXPECT_EQ(c.List("mydestination"), (std::vector<std::string>{"a", "b", "c"}));
  auto t = c.GetTables("transport_maps");
  ASSERT_TRUE(t.ok()) << t.error();
  ASSERT_EQ(t->size(), 2u);
  EXPECT_EQ((*t)[1].type, "inline");
  EXPECT_EQ((*t)[1].name, "{ a=b, c=d }");
  EXPECT_EQ(c.Int("max_use"), 100);
}

TEST(MainCf, ValidateReportsBadValuesLoopsAndUnknownNames) {
  Config c = MustParse(
      "max_idle = soon\n"
      "smtpd_helo_required = maybe\n"
      "myhostname = $myorigin\n"
      "my_own = x\n"
      "uses_it = $my_own\n");
  auto problems = c.Validate();
  std::string all;
  for (auto& p : problems) all += (p.warning ? "W " : "E ") + p.text + "\n";
  EXPECT_NE(all.find("E main.cf: parameter max_idle: bad time value: \"soon\""), std::string::npos) << all;
  EXPECT_NE(all.find("E main.cf: parameter smtpd_helo_required: bad boolean value"), std::string::npos) << all;
  EXPECT_NE(all.find("expansion loop: myhostname -> myorigin -> myhostname"), std::string::npos) << all;
  EXPECT_NE(all.find("W main.cf, line 5: unused parameter: uses_it=$my_own"), std::string::npos) << all;
  EXPECT_EQ(all.find("unused parameter: my_own"), std::string::npos) << all;  // referenced
  // Shorthands fall back to the default when the value is wrong.
  EXPECT_EQ(c.Time("max_idle").count(), 100);
}

TEST(MainCf, PerServiceParametersOfMasterCfServicesAreUsed) {
  std::string dir = (std::filesystem::temp_directory_path() / ("maincf_svc." + std::to_string(getpid()))).string();
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/main.cf") << "dovecot_destination_recipient_limit = 1\ndovecot_time_limit = 3s\n"
                                     "relay_destination_concurrency_limit = 2\nnosuch_time_limit = 1s\n"
                                     "dovecot_bogus_limit = 1\n";
  std::ofstream(dir + "/master.cf") << "dovecot unix - n n - - pipe user=nobody argv=/bin/cat\n"
                                       "relay unix - - n - - smtp\n";
  auto c = Config::Load(dir);
  ASSERT_TRUE(c.ok()) << c.error();
  std::string all;
  for (auto& p : c->Validate()) all += p.text + "\n";
  EXPECT_EQ(all.find("unused parameter: dovecot_destination_recipient_limit"), std::string::npos) << all;
  EXPECT_EQ(all.find("unused parameter: dovecot_time_limit"), std::string::npos) << all;
  EXPECT_EQ(all.find("unused parameter: relay_destination_concurrency_limit"), std::string::npos) << all;
  EXPECT_NE(all.find("unused parameter: nosuch_time_limit=1s"), std::string::npos) << all;
  EXPECT_NE(all.find("unused parameter: dovecot_bogus_limit=1"), std::string::npos) << all;
  std::filesystem::remove_all(dir);
}

TEST(MainCf, LoadReadsTheDirectory) {
  auto c = Config::Load("/nonexistent-postern-dir");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find("open /nonexistent-postern-dir/main.cf"), std::string::npos);
}

TEST(MainCf, ExpansionThatDoublesAtEachLevelFailsFast) {
  // "billion laughs": each level refers to the one below twice.
  std::string text = "a0 = xxxxxxxxxx\n";
  for (int i = 1; i < 40; ++i)
    text += "a" + std::to_string(i) + " = $a" + std::to_string(i - 1) + "$a" + std::to_string(i - 1) + "\n";
  text += "b = ${a39:x}\n";
  Config c = MustParse(text);
  for (const char* name : {"a39", "b"}) {
    auto r = c.Get(name);
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_NE(r.error().find("parameter expansion too large"), std::string::npos) << r.error();
  }
  EXPECT_EQ(c.Get("a10")->size(), 10u << 10);  // large but sane values still expand
}

}  // namespace
}  // namespace postern::config
