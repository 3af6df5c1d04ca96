// smtp/nexthop_test.cc — next-hop syntax of the smtp and lmtp clients.
#include "smtp/nexthop.h"

#include <gtest/gtest.h>

namespace postern::smtp_client {
namespace {

struct Case {
  const char* text;
  bool lmtp;
  bool ok;
  Nexthop::Kind kind;
  const char* host;
  uint16_t port;
  bool mx;
};

TEST(Nexthop, Syntax) {
  using K = Nexthop::Kind;
  const Case cases[] = {
      {"example.com", false, true, K::kTcp, "example.com", 25, true},
      {"example.com:2525", false, true, K::kTcp, "example.com", 2525, true},
      {"[mx.example.com]", false, true, K::kTcp, "mx.example.com", 25, false},
      {"[127.0.0.2]:2525", false, true, K::kTcp, "127.0.0.2", 2525, false},
      {"[::1]:26", false, true, K::kTcp, "::1", 26, false},
      {"inet:[mx.example]:26", false, true, K::kTcp, "mx.example", 26, false},
      {"[mx.example]:smtp", false, true, K::kTcp, "mx.example", 25, false},
      {"unix:/run/lmtp", true, true, K::kUnix, "/run/lmtp", 0, false},
      {"inet:127.0.0.1:2424", true, true, K::kTcp, "127.0.0.1", 2424, false},
      {"lmtp.example", true, true, K::kTcp, "lmtp.example", 24, false},
      {"unix:/run/lmtp", false, false, K::kTcp, "", 0, false},
      {"[mx.example", false, false, K::kTcp, "", 0, false},
      {"[mx.example]x", false, false, K::kTcp, "", 0, false},
      {"[mx.example]:0", false, false, K::kTcp, "", 0, false},
      {"[mx.example]:70000", false, false, K::kTcp, "", 0, false},
      {"[]:25", false, false, K::kTcp, "", 0, false},
      {"unix:", true, false, K::kTcp, "", 0, false},
  };
  for (const auto& c : cases) {
    auto h = ParseNexthop(c.text, "", c.lmtp, c.lmtp ? "24" : "25");
    ASSERT_EQ(bool(h), c.ok) << c.text;
    if (!c.ok) continue;
    EXPECT_EQ(h->kind, c.kind) << c.text;
    EXPECT_EQ(h->host, c.host) << c.text;
    EXPECT_EQ(h->port, c.port) << c.text;
    EXPECT_EQ(h->mx_lookup, c.mx) << c.text;
  }
}

TEST(Nexthop, EmptyMeansTheRecipientDomain) {
  auto h = ParseNexthop("", "example.net", false, "25");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->host, "example.net");
  EXPECT_TRUE(h->mx_lookup);
  EXPECT_FALSE(ParseNexthop("", "", false, "25"));
}

}  // namespace
}  // namespace postern::smtp_client
