// smtp/sasl_client.h — the smtp/lmtp client's AUTH (smtp_sasl_*, lmtp_sasl_*): which
// login to use for a next hop (smtp_sasl_password_maps), which mechanism (PLAIN or
// LOGIN) the filter and the security options (with or without TLS) allow.
// The exchange itself runs in Delivery::Authenticate (sasl_client.cc).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "postern/config/maincf.h"
#include "postern/table/table.h"
#include "postern/util/result.h"
#include "smtp/sasl_policy.h"

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
  // nullptr when smtp_sasl_auth_enable (lmtp_sasl_auth_enable) is off.
  static Result<std::unique_ptr<SaslClient>> Load(const config::Config& cfg, bool lmtp);

  // The first of `keys` found in smtp_sasl_password_maps ("user:password");
  // nullopt: no login for this server. An error: the table failed.
  Result<std::optional<SaslCredentials>> Lookup(const std::vector<std::string>& keys);
  // PLAIN or LOGIN, whichever the server offers and the filter and the
  // security options in force (smtp_sasl_tls_security_options over TLS,
  // smtp_sasl_security_options without) allow, PLAIN first (one round
  // trip); empty when none fits.
  std::string Choose(const std::vector<std::string>& offered, bool tls) const;
  // Whether the options in force let PLAIN and LOGIN through at all.
  bool plaintext_allowed(bool tls) const { return tls ? plaintext_over_tls_ : plaintext_; }

 private:
  table::TableList maps_;
  std::vector<std::string> allowed_;  // upper-cased, in order of preference
  bool plaintext_ = false, plaintext_over_tls_ = false;
};



}  // namespace postern::smtp_client
