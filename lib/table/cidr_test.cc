// table/cidr_test.cc — cidr_table(5) parsing and first-match semantics.
#include "postern/table/cidr.h"

#include <gtest/gtest.h>

namespace postern::table {
namespace {

TEST(Cidr, ParseNetwork) {
  struct {
    const char* text;
    bool ok;
    const char* why_part;
  } cases[] = {
      {"0.0.0.0/0", true, ""},           {"1.2.3.4/32", true, ""},
      {"1.2.3.4", true, ""},             {"10.0.0.0/8", true, ""},
      {"::/0", true, ""},                {"2001:db8::/32", true, ""},
      {"[2001:db8::]/32", true, ""},     {"[2001:db8::/32]", true, ""},
      {"::1/128", true, ""},             {"[::1]", true, ""},
      {"1.2.3.4/33", false, "bad net/mask"},
      {"::/129", false, "bad net/mask"}, {"1.2.3.0/", false, "bad net/mask"},
      {"1.2.3.0/-1", false, "bad net/mask"},
      {"1.2.3.0/x", false, "bad net/mask"},
      {"1.2.3.4/24", false, "non-null host address bits"},
      {"2001:db8::1/64", false, "non-null host address bits"},
      {"1.2.3", false, "bad address"},   {"host.example", false, "bad address"},
      {"", false, "bad address"},
  };
  for (const auto& c : cases) {
    std::string why;
    auto n = ParseNetwork(c.text, &why);
    EXPECT_EQ(n.has_value(), c.ok) << c.text;
    EXPECT_NE(why.find(c.why_part), std::string::npos) << c.text << ": " << why;
  }
  std::string why;
  ParseNetwork("1.2.3.4/24", &why);
  EXPECT_NE(why.find("perhaps you should use \"1.2.3.0/24\""), std::string::npos) << why;
}

TEST(Cidr, FirstMatchWins) {
  std::vector<std::string> w;
  auto rules = CidrRules::Parse(
      "# comment\n"
      "192.168.1.1       REJECT host\n"
      "192.168.0.0/16    OK private\n"
      "1.2.3.4/24        bad rule\n"
      "1.2.3.0/33        bad rule\n"
      "2001:db8::/32     v6\n"
      "[::1]             loopback6\n"
      "!10.0.0.0/8       not ten\n"
      "0.0.0.0/0         any4\n",
      "/t", &w);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].rfind("cidr map /t, line 4: non-null host address bits", 0), 0u) << w[0];
  EXPECT_NE(w[0].find("skipping this rule"), std::string::npos);
  EXPECT_EQ(w[1].rfind("cidr map /t, line 5: bad net/mask", 0), 0u) << w[1];
  struct {
    const char* key;
    std::optional<std::string> want;
  } cases[] = {
      {"192.168.1.1", "REJECT host"},  {"192.168.7.7", "OK private"},
      {"1.2.3.4", "not ten"},          {"10.1.1.1", "any4"},
      {"2001:db8:1::5", "v6"},         {"::1", "loopback6"},
      {"[::1]", "loopback6"},          {"2001:db9::1", "not ten"},  // other family
      {"not-an-ip", std::nullopt},     {"", std::nullopt},
      {"1.2.3.4.5", std::nullopt},
  };
  for (const auto& c : cases) EXPECT_EQ(rules.Match(c.key), c.want) << c.key;
}

TEST(Cidr, PrefixEdges) {
  std::vector<std::string> w;
  auto rules = CidrRules::Parse("1.2.3.4/32 exact\n128.0.0.0/1 high\n::/0 all6\n0.0.0.0/0 all4\n",
                                "t", &w);
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(rules.Match("1.2.3.4"), "exact");
  EXPECT_EQ(rules.Match("1.2.3.5"), "all4");
  EXPECT_EQ(rules.Match("200.0.0.1"), "high");
  EXPECT_EQ(rules.Match("127.255.255.255"), "all4");
  EXPECT_EQ(rules.Match("fe80::1"), "all6");
}

TEST(Cidr, IfEndif) {
  std::vector<std::string> w;
  auto rules = CidrRules::Parse(
      "if 10.0.0.0/8\n"
      "10.1.0.0/16 inner\n"
      "if !10.2.0.0/16\n"
      "0.0.0.0/0 ten-not-two\n"
      "endif\n"
      "endif\n"
      "0.0.0.0/0 outer\n"
      "endif\n",
      "t", &w);
  ASSERT_EQ(w.size(), 1u);  // the stray endif
  EXPECT_NE(w[0].find("line 8"), std::string::npos);
  EXPECT_EQ(rules.Match("10.1.2.3"), "inner");
  EXPECT_EQ(rules.Match("10.3.0.1"), "ten-not-two");
  EXPECT_EQ(rules.Match("10.2.0.1"), "outer");
  EXPECT_EQ(rules.Match("11.0.0.1"), "outer");
}

TEST(Cidr, UnclosedIfAndMissingResult) {
  std::vector<std::string> w;
  auto rules = CidrRules::Parse("1.2.3.4\nif 1.0.0.0/8\n1.2.3.4 x\n", "t", &w);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_NE(w[0].find("no lookup result"), std::string::npos);
  EXPECT_NE(w[1].find("IF has no matching ENDIF"), std::string::npos);
  EXPECT_EQ(rules.Match("1.2.3.4"), "x");
  EXPECT_EQ(rules.Match("2.2.3.4"), std::nullopt);
}

}  // namespace
}  // namespace postern::table
