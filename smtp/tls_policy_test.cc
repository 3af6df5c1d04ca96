// smtp/tls_policy_test.cc — TLS levels, policy table entries, their lookup
// keys and certificate match names, table-driven.
#include "smtp/tls_policy.h"

#include <gtest/gtest.h>

namespace postern::smtp_client {
namespace {

TEST(TlsLevel, PostfixNamesAndRefusals) {
  EXPECT_EQ(*ParseTlsLevel(""), TlsLevel::kNone);
  EXPECT_EQ(*ParseTlsLevel("may"), TlsLevel::kMay);
  EXPECT_EQ(*ParseTlsLevel("Encrypt"), TlsLevel::kEncrypt);
  EXPECT_EQ(*ParseTlsLevel("verify"), TlsLevel::kVerify);
  EXPECT_EQ(*ParseTlsLevel("secure"), TlsLevel::kSecure);
  EXPECT_EQ(*ParseTlsLevel("dane"), TlsLevel::kDane);
  EXPECT_EQ(*ParseTlsLevel("DANE-only"), TlsLevel::kDaneOnly);
  EXPECT_EQ(*ParseTlsLevel("fingerprint"), TlsLevel::kFingerprint);
  EXPECT_FALSE(ParseTlsLevel("maybe"));
}

struct PolicyCase {
  std::string text;
  bool ok;
  TlsLevel level;
  std::vector<std::string> match;
  std::string protocols, ciphers;
};

TEST(TlsPolicy, ParsesTableEntries) {
  const PolicyCase cases[] = {
      {"encrypt", true, TlsLevel::kEncrypt, {}, "", ""},
      {"verify match=hostname:nexthop", true, TlsLevel::kVerify, {"hostname", "nexthop"}, "", ""},
      {"secure match=.example.com protocols=>=TLSv1.2 ciphers=high", true, TlsLevel::kSecure, {".example.com"},
       ">=TLSv1.2", "high"},
      {"encrypt protocols=!SSLv2:!SSLv3:!TLSv1", true, TlsLevel::kEncrypt, {}, "!SSLv2:!SSLv3:!TLSv1", ""},
      {"none", true, TlsLevel::kNone, {}, "", ""},
      {"", false, {}, {}, "", ""},
      {"dane", true, TlsLevel::kDane, {}, "", ""},
      {"dane match=hostname", false, {}, {}, "", ""},  // TLSA records say what matches
      {"may match=hostname", false, {}, {}, "", ""},  // nothing to match without verification
      {"encrypt exclude=MD5", true, TlsLevel::kEncrypt, {}, "", ""},
      {"encrypt exclude=FANCY", false, {}, {}, "", ""},
      {"encrypt frobnicate=1", false, {}, {}, "", ""},
      // Fingerprints have colons: "|" separates them, and match= attributes add up.
      {"fingerprint match=AB:CD|ef01 match=12:34", true, TlsLevel::kFingerprint, {"AB:CD", "ef01", "12:34"}, "", ""},
      {"encrypt match=AB:CD", false, {}, {}, "", ""},
      {"encrypt ciphers=null", false, {}, {}, "", ""},
      {"encrypt protocols=TLSv9", false, {}, {}, "", ""},
      {"verify match=", false, {}, {}, "", ""},
  };
  for (const auto& c : cases) {
    auto p = ParseTlsPolicy(c.text);
    ASSERT_EQ(bool(p), c.ok) << c.text << (p ? "" : ": " + p.error());
    if (!p) continue;
    EXPECT_EQ(p->level, c.level) << c.text;
    EXPECT_EQ(p->match, c.match) << c.text;
    EXPECT_EQ(p->protocols, c.protocols) << c.text;
    EXPECT_EQ(p->ciphers, c.ciphers) << c.text;
  }
}

TEST(TlsPolicy, ExcludeAndServerNameAttributes) {
  auto p = ParseTlsPolicy("encrypt exclude=AES256:CHACHA20 servername=relay.example");
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(p->exclude, "AES256:CHACHA20");
  EXPECT_EQ(p->servername, "relay.example");
  EXPECT_TRUE(p->required());
  EXPECT_FALSE(p->matches());
  auto f = ParseTlsPolicy("fingerprint");
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->required() && f->matches() && !f->verifies());
  // dane is opportunistic until TLSA records say otherwise; dane-only never is.
  auto d = ParseTlsPolicy("dane"), o = ParseTlsPolicy("dane-only");
  ASSERT_TRUE(d && o);
  EXPECT_TRUE(d->dane() && !d->required() && !d->matches() && !d->verifies());
  EXPECT_TRUE(o->dane() && o->required() && !o->matches() && !o->verifies());
}

TEST(TlsPolicy, KeysSeparatePolicies) {
  TlsPolicy none, may, verify_a, verify_b;
  may.level = TlsLevel::kMay;
  verify_a.level = verify_b.level = TlsLevel::kVerify;
  verify_a.match = {"hostname"};
  verify_b.match = {"nexthop"};
  EXPECT_EQ(none.Key(), "none");
  EXPECT_NE(may.Key(), none.Key());
  EXPECT_NE(verify_a.Key(), verify_b.Key());
  EXPECT_NE(verify_a.Key(), may.Key());
  TlsPolicy sni_a = may, sni_b = may, fp = may;
  sni_a.servername = "a.example";
  sni_b.servername = "b.example";
  EXPECT_NE(sni_a.Key(), sni_b.Key());
  fp.level = TlsLevel::kFingerprint;
  fp.match = {"AB:CD"};
  EXPECT_NE(fp.Key(), may.Key());
}

TEST(TlsPolicyKeys, NexthopThenParents) {
  EXPECT_EQ(TlsPolicyKeys("", "mail.example.com", 25, true),
            (std::vector<std::string>{"mail.example.com", ".example.com", ".com"}));
  EXPECT_EQ(TlsPolicyKeys("example.com", "example.com", 25, true),
            (std::vector<std::string>{"example.com", ".com"}));
  EXPECT_EQ(TlsPolicyKeys("[mx.x]:2525", "mx.x", 2525, false), (std::vector<std::string>{"[mx.x]:2525", "[mx.x]"}));
  EXPECT_EQ(TlsPolicyKeys("[mx.x]", "mx.x", 25, false), (std::vector<std::string>{"[mx.x]", "[mx.x]:25"}));
}

TEST(MatchNames, StrategiesAndLiterals) {
  EXPECT_EQ(MatchNames({"hostname"}, "mx1.example.net", "example.com"),
            (std::vector<std::string>{"mx1.example.net"}));
  EXPECT_EQ(MatchNames({"nexthop", "dot-nexthop"}, "mx1.example.net", "example.com"),
            (std::vector<std::string>{"example.com", ".example.com"}));
  EXPECT_EQ(MatchNames({"mail.other.org", ".other.org"}, "h", "n"),
            (std::vector<std::string>{"mail.other.org", ".other.org"}));
}

// "sts:" stands where it is written: tables before it win over MTA-STS,
// tables after it are asked only without an MTA-STS policy.
TEST(TlsClient, StsPositionInThePolicyMaps) {
  auto cfg = config::Config::Parse(
      "smtp_tls_policy_maps = inline:{ before.test=encrypt }, sts:, inline:{ before.test=none, after.test=verify }\n"
      "smtp_tls_security_level = may\n");
  ASSERT_TRUE(cfg.ok()) << cfg.error();
  auto creds = TlsClient::LoadCredentials(*cfg, false);
  ASSERT_TRUE(creds.ok()) << creds.error();
  auto c = TlsClient::Load(*cfg, false, *creds);
  ASSERT_TRUE(c.ok() && *c) << (c.ok() ? "no client" : c.error());
  TlsClient& tls = **c;
  EXPECT_TRUE(tls.sts());
  auto sts = ParseTlsPolicy("secure match=mx.after.test servername=hostname");
  ASSERT_TRUE(sts.ok());
  EXPECT_EQ(tls.PolicyFor({"before.test"}, *sts)->level, TlsLevel::kEncrypt);
  EXPECT_EQ(tls.PolicyFor({"after.test"}, *sts)->level, TlsLevel::kSecure);
  EXPECT_EQ(tls.PolicyFor({"after.test"})->level, TlsLevel::kVerify);
  EXPECT_EQ(tls.PolicyFor({"other.test"})->level, TlsLevel::kMay);
  EXPECT_TRUE(tls.PolicyBeforeSts({"before.test"})->has_value());
  EXPECT_FALSE(tls.PolicyBeforeSts({"after.test"})->has_value());
}

}  // namespace
}  // namespace postern::smtp_client
