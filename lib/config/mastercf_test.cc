// config/mastercf_test.cc — master.cf columns, overrides and errors.
#include "postern/config/mastercf.h"

#include <gtest/gtest.h>

namespace postern::config {
namespace {

TEST(MasterCf, ColumnsDefaultsAndOverrides) {
  auto r = ParseMasterCf(
      "# service type  private unpriv  chroot  wakeup  maxproc command + args\n"
      "smtp      inet  n       -       n       -       -       smtpd\n"
      "submission inet n       -       n       -       -       smtpd\n"
      "  -o syslog_name=postern/submission\n"
      "  -o { smtpd_banner = hello world }\n"
      "  -osmtpd_tls_security_level=encrypt\n"
      "qmgr      unix  n       -       n       300?    1       qmgr\n"
      "pickup    unix  n       -       n       60      1       pickup -v\n");
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_EQ(r->size(), 4u);
  const auto& smtp = (*r)[0];
  EXPECT_EQ(smtp.Key(), "smtp/inet");
  EXPECT_FALSE(smtp.IsPrivate());
  EXPECT_TRUE(smtp.IsUnprivileged());
  EXPECT_FALSE(smtp.maxproc.has_value());
  EXPECT_EQ(smtp.command, "smtpd");
  const auto& sub = (*r)[1];
  EXPECT_EQ(sub.line, 3);
  ASSERT_EQ(sub.overrides.size(), 3u);
  EXPECT_EQ(sub.overrides[0], (std::pair<std::string, std::string>{"syslog_name", "postern/submission"}));
  EXPECT_EQ(sub.overrides[1], (std::pair<std::string, std::string>{"smtpd_banner", "hello world"}));
  EXPECT_EQ(sub.overrides[2].first, "smtpd_tls_security_level");
  const auto& qmgr = (*r)[2];
  EXPECT_EQ(qmgr.wakeup, 300);
  EXPECT_TRUE(qmgr.wakeup_if_used);
  EXPECT_EQ(*qmgr.maxproc, 1);
  EXPECT_EQ((*r)[3].args, (std::vector<std::string>{"-v"}));
}

TEST(MasterCf, ErrorsNameFileAndLine) {
  struct { const char* text; const char* error; } cases[] = {
      {"smtp inet n - n - - \n", "master.cf, line 1: expected 8 fields"},
      {"# c\nsmtp tcp n - n - - smtpd\n", "master.cf, line 2: bad transport type: \"tcp\""},
      {"smtp inet x - n - - smtpd\n", "line 1: bad private field: \"x\""},
      {"smtp inet n - n 1x - smtpd\n", "line 1: bad wakeup field"},
      {"smtp inet n - n - many smtpd\n", "line 1: bad maxproc field"},
      {"smtp inet n - n - - smtpd -o\n", "line 1: -o without name=value"},
      {"smtp inet n - n - - smtpd -o novalue\n", "line 1: bad -o argument"},
      {"smtp inet n - n - - smtpd -o { a = b\n", "line 1: missing '}'"},
      {"smtp inet y - n - - smtpd\n", "cannot be private"},
      {"smtp inet n - n - - smtpd\nsmtp inet n - n - - smtpd\n", "line 2: duplicate service: smtp/inet"},
      {"  smtp inet n - n - - smtpd\n", "line 1: continuation line follows nothing"},
  };
  for (auto& t : cases) {
    auto r = ParseMasterCf(t.text);
    ASSERT_FALSE(r.ok()) << t.text;
    EXPECT_NE(r.error().find(t.error), std::string::npos) << t.text << " -> " << r.error();
  }
}

TEST(MasterCf, FormatAlignsColumns) {
  auto r = ParseMasterCf("smtp inet n - n - - smtpd -o { smtpd_banner = a b } -v\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(FormatMasterLine((*r)[0], false),
            "smtp       inet  n       -       n       -       -       smtpd -o { smtpd_banner = a b } -v");
  EXPECT_EQ(FormatMasterLine((*r)[0], true),
            "smtp       inet  n       -       n       -       -       smtpd\n  -o { smtpd_banner = a b }\n  -v");
}

TEST(MasterCf, FormatBracesEveryWhiteSpaceTheParserSplitsAt) {
  // Found by fuzz_mastercf: a braced argument holding a CR came back as two.
  auto r = ParseMasterCf(std::string_view("smtp inet n - n - - smtpd { a\rb }\n"));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ((*r)[0].args, std::vector<std::string>{"a\rb"});
  for (bool fold : {false, true}) {
    auto again = ParseMasterCf(FormatMasterLine((*r)[0], fold));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ((*again)[0].args, (*r)[0].args) << fold;
  }
}

TEST(MasterCf, FormatBracesACommandWithWhiteSpace) {
  // Found by fuzz_mastercf: a braced command field came back as command + arguments.
  auto r = ParseMasterCf(std::string_view("smtp inet n - n - - { smtpd x } -v\n"));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ((*r)[0].fields[7], "smtpd x");
  for (bool fold : {false, true}) {
    auto again = ParseMasterCf(FormatMasterLine((*r)[0], fold));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ((*again)[0].fields, (*r)[0].fields) << fold;
    EXPECT_EQ((*again)[0].args, (*r)[0].args) << fold;
  }
}

}  // namespace
}  // namespace postern::config
