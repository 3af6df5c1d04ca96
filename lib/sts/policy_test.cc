// sts/policy_test.cc — MTA-STS TXT ids, policy files, MX matching and the
// cached and TLS-policy forms.
#include "postern/sts/policy.h"

#include <gtest/gtest.h>

namespace postern::sts {
namespace {

TEST(StsPolicy, ParsesTheRfcExample) {
  auto p = ParsePolicy("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\n"
                       "mx: backupmx.example.com\r\nmax_age: 604800\r\n");
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(p->mode, Mode::kEnforce);
  EXPECT_EQ(p->mx, (std::vector<std::string>{"mail.example.com", "*.example.net", "backupmx.example.com"}));
  EXPECT_EQ(p->max_age, 604800u);
}

TEST(StsPolicy, AcceptsLfUnknownKeysAndClampsMaxAge) {
  auto p = ParsePolicy("version:STSv1\nmode: testing\nfoo: bar\nmx: MX1.Example.TEST.\nmax_age: 9999999999\n");
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(p->mode, Mode::kTesting);
  EXPECT_EQ(p->mx, (std::vector<std::string>{"mx1.example.test"}));
  EXPECT_EQ(p->max_age, kMaxAge);
}

TEST(StsPolicy, RefusesBrokenPolicies) {
  struct Case {
    const char* text;
    const char* error;
  } cases[] = {
      {"mode: enforce\nmx: a.test\nmax_age: 1\n", "policy has no version"},
      {"version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 1\n", "policy version is not STSv1"},
      {"version: STSv1\nmode: strict\nmx: a.test\nmax_age: 1\n", "policy mode is not enforce, testing or none"},
      {"version: STSv1\nmode: enforce\nmax_age: 1\n", "policy has no mx"},
      {"version: STSv1\nmode: enforce\nmx: a.test\n", "policy has no max_age"},
      {"version: STSv1\nmode: enforce\nmx: a.test\nmax_age: -1\n", "policy max_age is not a number"},
      {"version: STSv1\nmode: enforce\nmx: a..test\nmax_age: 1\n", "policy mx \"a..test\" is not a host name"},
      {"version: STSv1\ngarbage\n", "policy line without \":\""},
  };
  for (const auto& c : cases) {
    auto p = ParsePolicy(c.text);
    ASSERT_FALSE(p) << c.text;
    EXPECT_EQ(p.error(), c.error) << c.text;
  }
  EXPECT_TRUE(ParsePolicy("version: STSv1\nmode: none\nmax_age: 1\n"));  // none needs no mx
}

TEST(StsPolicy, TxtIdFromTheOneStsRecord) {
  EXPECT_EQ(*ParseTxtId({"other", "v=STSv1; id=20160831085700Z;"}), "20160831085700Z");
  EXPECT_EQ(*ParseTxtId({"v=STSv1;id=abc"}), "abc");
  EXPECT_EQ(ParseTxtId({"v=STSv1; id=a1", "v=STSv1; id=a2"}).error(), "more than one v=STSv1 TXT record");
  EXPECT_EQ(ParseTxtId({"v=spf1 -all"}).error(), "no v=STSv1 TXT record");
  EXPECT_EQ(ParseTxtId({"v=STSv10; id=1"}).error(), "no v=STSv1 TXT record");
  EXPECT_EQ(ParseTxtId({"v=STSv1;"}).error(), "TXT record without id");
  EXPECT_FALSE(ParseTxtId({"v=STSv1; id=has-dash"}));
  EXPECT_FALSE(ParseTxtId({"v=STSv1; id=" + std::string(33, 'a')}));
}

TEST(StsPolicy, MxPatternsMatchOneWildcardLabel) {
  struct Case {
    const char* pattern;
    const char* host;
    bool match;
  } cases[] = {
      {"mail.example.com", "mail.example.com", true}, {"mail.example.com", "MAIL.example.com.", true},
      {"mail.example.com", "x.mail.example.com", false}, {"*.example.net", "mx1.example.net", true},
      {"*.example.net", "a.b.example.net", false},     {"*.example.net", "example.net", false},
      {"*.example.net", "mx1.example.net.", true},     {"*.example.net", "xexample.net", false},
  };
  for (const auto& c : cases) EXPECT_EQ(MxMatches(c.pattern, c.host), c.match) << c.pattern << " " << c.host;
}

TEST(StsPolicy, CachedFormRoundTripsAndEnforcedFormIsASecurePolicy) {
  Policy p{Mode::kEnforce, {"mx1.example.com", "*.example.net"}, 86400};
  std::string id;
  auto back = Decode(Encode(p, "id42"), &id);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(id, "id42");
  EXPECT_EQ(back->mx, p.mx);
  EXPECT_EQ(back->max_age, 86400u);
  EXPECT_EQ(TlsPolicyText(p), "secure match=mx1.example.com:.example.net servername=hostname");
  EXPECT_FALSE(Decode("garbage", &id));
}

}  // namespace
}  // namespace postern::sts
