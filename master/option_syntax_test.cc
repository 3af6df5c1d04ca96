// master/option_syntax_test.cc — set option's arguments: name=value and
// smtpf's OPTN ±name, with the errors the operator sees.
#include "master/option_syntax.h"

#include <gtest/gtest.h>

namespace postern::master {
namespace {

using Settings = std::vector<OptionSetting>;

TEST(SetOptionSyntax, NameEqualsValueInOneOrSeveralWords) {
  struct Case {
    std::vector<std::string> args;
    Settings want;
  } cases[] = {
      {{"smtpd_banner=x ESMTP"}, {{"smtpd_banner", "x ESMTP"}}},
      {{"smtpd_timeout", "=", "30s"}, {{"smtpd_timeout", "30s"}}},
      {{"smtpd_tls_auth_only=no"}, {{"smtpd_tls_auth_only", "no"}}},
      {{"smtpd_banner="}, {{"smtpd_banner", ""}}},
  };
  for (const auto& c : cases) {
    auto r = ParseSetOption(c.args);
    ASSERT_TRUE(r.ok()) << c.args[0] << ": " << r.error();
    EXPECT_EQ(*r, c.want) << c.args[0];
  }
}

TEST(SetOptionSyntax, PlusAndMinusSwitchBooleans) {
  auto r = ParseSetOption({"+smtpd_tls_auth_only", "-disable_vrfy_command"});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(*r, (Settings{{"smtpd_tls_auth_only", "yes"}, {"disable_vrfy_command", "no"}}));
}

TEST(SetOptionSyntax, ErrorsNameTheProblem) {
  struct Case {
    std::vector<std::string> args;
    std::string error;
  } cases[] = {
      {{}, "usage: set option name=value | set option +name|-name ..."},
      {{"smtpd_banner"}, "usage: set option name=value | set option +name|-name ..."},
      {{"+"}, "usage: set option name=value | set option +name|-name ..."},
      {{"+smtpd_tls_auth_only", "smtpd_timeout=1"}, "usage: set option name=value | set option +name|-name ..."},
      {{"+smtpd_tls_auth_only=yes"}, "usage: set option name=value | set option +name|-name ..."},
      {{"no_such_parameter=1"}, "set option: unknown parameter no_such_parameter (see postconf -d)"},
      {{"+no_such_parameter"}, "set option: unknown parameter no_such_parameter (see postconf -d)"},
      {{"-smtpd_timeout"}, "set option: -smtpd_timeout: smtpd_timeout is not a boolean parameter (use "
                           "smtpd_timeout=value)"},
      {{"+smtpd_tls_auth_only", "+smtpd_banner"},
       "set option: +smtpd_banner: smtpd_banner is not a boolean parameter (use smtpd_banner=value)"},
  };
  for (const auto& c : cases) {
    auto r = ParseSetOption(c.args);
    ASSERT_FALSE(r.ok()) << (c.args.empty() ? "" : c.args[0]);
    EXPECT_EQ(r.error(), c.error);
  }
}

TEST(SetOptionSyntax, ValuesAreCheckedByType) {
  auto r = ParseSetOption({"smtpd_timeout=soon"});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().starts_with("set option: smtpd_timeout: ")) << r.error();
  EXPECT_FALSE(ParseSetOption({"smtpd_tls_auth_only=maybe"}).ok());
}

}  // namespace
}  // namespace postern::master
