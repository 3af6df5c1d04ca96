// smtp/sasl_policy_test.cc — smtp_sasl_security_options as the client judges
// them for PLAIN and LOGIN, and the password-map keys of a next hop.
#include "smtp/sasl_policy.h"

#include <gtest/gtest.h>

namespace postern::smtp_client {
namespace {

TEST(SaslPolicy, SecurityOptions) {
  struct Case {
    std::vector<std::string> options;
    bool ok;
    bool allowed;
  };
  const Case cases[] = {
      {{"noplaintext", "noanonymous"}, true, false},  // Postfix's default
      {{"noanonymous"}, true, true},                  // the explicit choice
      {{}, true, true},
      {{"NoAnonymous"}, true, true},
      {{"noactive"}, true, false},
      {{"nodictionary", "noanonymous"}, true, false},
      {{"mutual_auth"}, true, false},
      {{"forward_secrecy"}, true, false},
      {{"noanonymous", "plaintext-please"}, false, false},
  };
  for (const Case& c : cases) {
    auto r = PlaintextMechanismsAllowed(c.options, "smtp_sasl_security_options");
    ASSERT_EQ(bool(r), c.ok) << testing::PrintToString(c.options);
    if (r) {
      EXPECT_EQ(*r, c.allowed) << testing::PrintToString(c.options);
    }
  }
  auto bad = PlaintextMechanismsAllowed({"bogus"}, "lmtp_sasl_tls_security_options");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), "lmtp_sasl_tls_security_options: unknown SASL security option \"bogus\"");
}

TEST(SaslPolicy, LookupKeys) {
  using V = std::vector<std::string>;
  EXPECT_EQ(SaslLookupKeys("[relay.example]:587", "relay.example", 587, false, "relay.example"),
            (V{"[relay.example]:587", "[relay.example]", "relay.example:587", "relay.example"}));
  EXPECT_EQ(SaslLookupKeys("example.com", "example.com", 25, true, "mx1.example.com"),
            (V{"example.com", "example.com:25", "mx1.example.com"}));
  EXPECT_EQ(SaslLookupKeys("unix:/run/lmtp", "/run/lmtp", 0, false, "host.example"),
            (V{"unix:/run/lmtp", "/run/lmtp", "host.example"}));
}

}  // namespace
}  // namespace postern::smtp_client
