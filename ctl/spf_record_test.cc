// ctl/spf_record_test.cc — SPF term parsing for `postern spf walk`.
#include "ctl/spf_record.h"

#include <gtest/gtest.h>

namespace postern::ctl::spf {
namespace {

TEST(SpfRecord, RecognisesVersion1Only) {
  EXPECT_TRUE(IsSpf1("v=spf1"));
  EXPECT_TRUE(IsSpf1("V=SPF1 -all"));
  EXPECT_FALSE(IsSpf1("v=spf10 -all"));
  EXPECT_FALSE(IsSpf1("v=DKIM1; k=rsa"));
  EXPECT_FALSE(Parse("google-site-verification=abc"));
}

TEST(SpfRecord, Terms) {
  struct Case {
    const char* record;
    std::vector<Term> want;
  };
  const Case cases[] = {
      {"v=spf1 ip4:192.0.2.0/24 -all",
       {{Kind::kIp4, '+', "192.0.2.0/24"}, {Kind::kOther, '-', "all"}}},
      {"v=spf1  IP6:2001:db8::/32 ~ip4:198.51.100.1",
       {{Kind::kIp6, '+', "2001:db8::/32"}, {Kind::kIp4, '~', "198.51.100.1"}}},
      {"v=spf1 include:_spf.example.test redirect=other.test",
       {{Kind::kInclude, '+', "_spf.example.test"}, {Kind::kRedirect, '+', "other.test"}}},
      {"v=spf1 a mx:mail.test/24 a/28//64 +mx//56",
       {{Kind::kA, '+', ""},
        {Kind::kMx, '+', "mail.test", 24},
        {Kind::kA, '+', "", 28, 64},
        {Kind::kMx, '+', "", -1, 56}}},
      {"v=spf1 exists:%{i}.x.test ?ptr", {{Kind::kOther, '+', "exists:%{i}.x.test"}, {Kind::kOther, '?', "ptr"}}},
  };
  for (const auto& c : cases) {
    auto got = Parse(c.record);
    ASSERT_TRUE(got) << c.record;
    EXPECT_EQ(*got, c.want) << c.record;
  }
}

TEST(SpfRecord, MalformedTermsRejectTheRecord) {
  for (const char* bad : {"v=spf1 ip4:", "v=spf1 a/33", "v=spf1 mx//129", "v=spf1 include:", "v=spf1 redirect",
                          "v=spf1 a:"}) {
    EXPECT_FALSE(Parse(bad)) << bad;
  }
}

}  // namespace
}  // namespace postern::ctl::spf
