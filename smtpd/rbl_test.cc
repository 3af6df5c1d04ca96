// smtpd/rbl_test.cc — DNS list sites and filters, query names, reply
// templates and reply parsing (smtpd/rbl.h).
#include "smtpd/rbl.h"

#include <gtest/gtest.h>

#include <map>

namespace postern::smtpd {
namespace {

TEST(RblSite, FiltersAsPostfix) {
  struct Case {
    const char* spec;
    std::vector<std::string> answer;
    bool listed;
  } cases[] = {
      {"zen.test", {"127.0.0.2"}, true},
      {"zen.test", {}, false},
      {"zen.test=127.0.0.2", {"127.0.0.2"}, true},
      {"zen.test=127.0.0.2", {"127.0.0.3"}, false},
      {"zen.test=127.0.0.2", {"127.0.0.4", "127.0.0.2"}, true},
      {"zen.test=127.0.0.[2..4]", {"127.0.0.4"}, true},
      {"zen.test=127.0.0.[2..4]", {"127.0.0.5"}, false},
      {"zen.test=127.0.0.[2;4;10..11]", {"127.0.0.3"}, false},
      {"zen.test=127.0.0.[2;4;10..11]", {"127.0.0.11"}, true},
      {"list.dnswl.test=127.0.[0..255].[1..3]", {"127.0.9.2"}, true},
      {"list.dnswl.test=127.0.[0..255].[1..3]", {"127.0.9.0"}, false},
  };
  for (const Case& c : cases) {
    auto site = RblSite::Parse(c.spec);
    ASSERT_TRUE(site.ok()) << c.spec << ": " << site.error();
    EXPECT_EQ(site->domain(), std::string(c.spec).substr(0, std::string(c.spec).find('=')));
    EXPECT_EQ(site->Listed(c.answer), c.listed) << c.spec;
  }
  for (const char* bad : {"", "=127.0.0.2", "zen.test=127.0.0", "zen.test=127.0.0.256", "zen.test=127.0.0.[4..2]",
                          "zen.test=127.0.0.[2..x]", "zen.test=127.0.0.2.1"})
    EXPECT_FALSE(RblSite::Parse(bad).ok()) << bad;
}

TEST(RblQuery, ReversedAddressesAndDomainNames) {
  EXPECT_EQ(RblAddressQuery("192.0.2.1", "zen.test"), "1.2.0.192.zen.test");
  EXPECT_EQ(RblAddressQuery("2001:db8::1", "v6.test"),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.v6.test");
  EXPECT_EQ(RblAddressQuery("not-an-address", "zen.test"), std::nullopt);
  EXPECT_EQ(RhsblQuery("Example.COM.", "dbl.test"), "example.com.dbl.test");
  EXPECT_EQ(RhsblQuery("unknown", "dbl.test"), std::nullopt);
  EXPECT_EQ(RhsblQuery("[192.0.2.1]", "dbl.test"), std::nullopt);
  EXPECT_EQ(RhsblQuery("", "dbl.test"), std::nullopt);
  EXPECT_EQ(RhsblQuery(std::string(250, 'a'), "dbl.test"), std::nullopt);
}

TEST(RblReply, TemplateMacros) {
  std::map<std::string, std::string, std::less<>> v = {
      {"rbl_code", "554"}, {"rbl_class", "Client host"}, {"rbl_what", "127.0.0.2"},
      {"rbl_domain", "zen.test"}, {"rbl_reason", "listed for spam"}, {"empty", ""}};
  MacroLookup lookup = [&](std::string_view n) -> std::optional<std::string> {
    auto it = v.find(n);
    if (it == v.end()) return std::nullopt;
    return it->second;
  };
  // Postfix's default_rbl_reply.
  EXPECT_EQ(ExpandTemplate("$rbl_code Service unavailable; $rbl_class [$rbl_what] blocked using "
                           "$rbl_domain${rbl_reason?; $rbl_reason}",
                           lookup),
            "554 Service unavailable; Client host [127.0.0.2] blocked using zen.test; listed for spam");
  struct Case {
    const char* in;
    const char* out;
  } cases[] = {
      {"${empty?yes}", ""},     {"${empty:no}", "no"},     {"${rbl_code:no}", ""},
      {"$$rbl_code", "$rbl_code"}, {"${rbl_code}x", "554x"}, {"$nosuch.", "."},
      {"a $ b", "a $ b"},       {"${unbalanced", "${unbalanced"},
      {"${rbl_domain?{$rbl_domain}}", "{zen.test}"},
  };
  for (const Case& c : cases) EXPECT_EQ(ExpandTemplate(c.in, lookup), c.out) << c.in;
}

TEST(RblReply, ParsesCodeAndStatus) {
  auto r = ParseReplyText("554 Service unavailable; blocked");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, 554);
  EXPECT_EQ(r->enhanced, "5.7.1");
  EXPECT_EQ(r->text, "Service unavailable; blocked");
  r = ParseReplyText("450 4.7.25 try later");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->enhanced, "4.7.25");
  EXPECT_EQ(r->text, "try later");
  r = ParseReplyText("550 4.7.1 mismatched class keeps the default");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->enhanced, "5.7.1");
  EXPECT_EQ(r->text, "4.7.1 mismatched class keeps the default");
  for (const char* bad : {"250 ok", "Service unavailable", "55 x", "5540 x", ""}) EXPECT_FALSE(ParseReplyText(bad)) << bad;
}

}  // namespace
}  // namespace postern::smtpd
