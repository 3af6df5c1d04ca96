// smtp/sasl_client.h — the smtp client's AUTH (smtp_sasl_*): which login to use for
// a next hop (smtp_sasl_password_maps), which mechanism (PLAIN or LOGIN).
// The exchange itself runs in Delivery::Authenticate (sasl_client.cc).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/maincf.h"
#include "table/table.h"
#include "util/result.h"

namespace postern::smtp_client {

struct SaslCredentials {
  std::string user, password;
  SaslCredentials() = default;
  SaslCredentials(const SaslCredentials&) = delete;
  SaslCredentials(SaslCredentials&&) = default;
  ~SaslCredentials();
};

class SaslClient {
 public:
  // nullptr when smtp_sasl_auth_enable is off (and always for LMTP).
  static Result<std::unique_ptr<SaslClient>> Load(const config::Config& cfg, bool lmtp);

  // The first of `keys` found in smtp_sasl_password_maps ("user:password");
  // nullopt: no login for this server. An error: the table failed.
  Result<std::optional<SaslCredentials>> Lookup(const std::vector<std::string>& keys);
  // PLAIN or LOGIN, whichever the server offers and the filter allows
  // (PLAIN first: one round trip); empty when none fits.
  std::string Choose(const std::vector<std::string>& offered) const;

 private:
  table::TableList maps_;
  std::vector<std::string> allowed_;  // upper-cased, in order of preference
};

// The password-map keys of a next hop, Postfix's order: the next hop as
// written ("[host]:port", "domain"), its bare host, then the server's name.
std::vector<std::string> SaslLookupKeys(std::string_view nexthop_text, std::string_view hop_host,
                                        uint16_t hop_port, bool mx_lookup, std::string_view server_host);

}  // namespace postern::smtp_client
