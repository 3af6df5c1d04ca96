// smtp/sasl_client.cc — the smtp client's AUTH: the login for a next hop and the
// PLAIN/LOGIN exchange after EHLO. Passwords and the base64 blobs that carry
// them are never logged; a refusal defers with the server's own reply.
#include "smtp/sasl_client.h"

#include <cstring>

#include "postern/log/log.h"
#include "postern/smtp/sasl.h"
#include "postern/table/surrogate.h"
#include "postern/util/strings.h"
#include "smtp/delivery.h"
#include "smtp/settings.h"

namespace postern::smtp_client {

SaslCredentials::~SaslCredentials() {
  smtp::WipeSecret(&user);
  smtp::WipeSecret(&password);
}

Result<std::unique_ptr<SaslClient>> SaslClient::Load(const config::Config& cfg, bool lmtp) {
  auto name = [lmtp](std::string_view smtp_name) { return ParamName(lmtp, smtp_name); };
  auto on = cfg.GetBool(name("smtp_sasl_auth_enable"));
  if (!on) return Err(on.error());
  if (!*on) return std::unique_ptr<SaslClient>();
  auto c = std::make_unique<SaslClient>();
  auto refs = cfg.GetTables(name("smtp_sasl_password_maps"));
  if (!refs) return Err(refs.error());
  // As Postfix: without maps no server has a login (mail goes without AUTH);
  // a table that does not open defers the deliveries that look it up.
  if (refs->empty())
    log::Warning("{} = yes but {} is empty: no logins", name("smtp_sasl_auth_enable"), name("smtp_sasl_password_maps"));
  c->maps_ = table::OpenListOrSurrogates(name("smtp_sasl_password_maps"), *refs, {.secret = true});
  std::string filter_name = name("smtp_sasl_mechanism_filter");
  auto filter = cfg.GetList(filter_name);
  if (!filter) return Err(filter.error());
  for (const char* m : {"PLAIN", "LOGIN"}) {
    bool allowed = filter->empty();
    for (const std::string& f : *filter) allowed = allowed || EqualsIgnoreCase(f, m);
    if (allowed) c->allowed_.push_back(m);
  }
  for (const std::string& f : *filter) {
    if (!EqualsIgnoreCase(f, "PLAIN") && !EqualsIgnoreCase(f, "LOGIN"))
      return Err(filter_name + ": \"" + f + "\": postern's client speaks PLAIN and LOGIN only");
  }
  for (auto [param, out] : {std::pair{name("smtp_sasl_security_options"), &c->plaintext_},
                            std::pair{name("smtp_sasl_tls_security_options"), &c->plaintext_over_tls_}}) {
    auto opts = cfg.GetList(param);
    if (!opts) return Err(opts.error());
    auto allowed = PlaintextMechanismsAllowed(*opts, param);
    if (!allowed) return Err(allowed.error());
    *out = *allowed;
  }
  return c;
}

Result<std::optional<SaslCredentials>> SaslClient::Lookup(const std::vector<std::string>& keys) {
  for (const std::string& k : keys) {
    auto r = maps_.Lookup(k);
    if (!r) return Err(r.error());
    if (!r->has_value()) continue;
    std::string v = std::move(**r);
    size_t colon = v.find(':');
    SaslCredentials c;
    c.user = v.substr(0, colon);
    if (colon != std::string::npos) c.password = v.substr(colon + 1);
    smtp::WipeSecret(&v);
    if (c.user.empty() || c.password.empty()) {
      log::Warning("smtp_sasl_password_maps: the entry for {} is not user:password", k);
      return std::optional<SaslCredentials>();
    }
    return std::optional<SaslCredentials>(std::move(c));
  }
  return std::optional<SaslCredentials>();
}

std::string SaslClient::Choose(const std::vector<std::string>& offered, bool tls) const {
  if (!plaintext_allowed(tls)) return "";
  for (const std::string& m : allowed_)
    for (const std::string& o : offered)
      if (o == m) return m;
  return "";
}

// --- the exchange --------------------------------------------------------

void Delivery::Authenticate() {
  if (!w_.sasl || conn_->ehlo.auth.empty()) return Transaction();
  auto keys = SaslLookupKeys(hop_text_, hop_.host, hop_.port, hop_.mx_lookup, conn_->host());
  auto creds = w_.sasl->Lookup(keys);
  if (!creds) {
    std::string maps = ParamName(s_.lmtp, "smtp_sasl_password_maps");
    log::Warning("{}: {}", maps, creds.error());
    return SiteFailed("SASL authentication failed: " + maps + " lookup error", "4.3.0", false);
  }
  // postern send -a: the table's login, or one asked for at the terminal.
  std::optional<SaslCredentials> login = w_.login ? w_.login(std::move(*creds)) : std::move(*creds);
  if (!login && w_.login)
    return SiteFailed("SASL authentication failed: no password for server " + conn_->peer() +
                          " (none in smtp_sasl_password_maps, none typed at a terminal)",
                      "4.7.0", false);
  if (!login) return Transaction();  // no login for this server: send without one
  std::string mech = w_.sasl->Choose(conn_->ehlo.auth, conn_->tls());
  if (mech.empty()) {
    if (!w_.sasl->plaintext_allowed(conn_->tls()))
      log::Warning("SASL authentication failure: No worthy mechs found ({} excludes PLAIN and LOGIN{})",
                   ParamName(s_.lmtp, conn_->tls() ? "smtp_sasl_tls_security_options" : "smtp_sasl_security_options"),
                   conn_->tls() ? "" : " without TLS");
    return SiteFailed("SASL authentication failed; cannot authenticate to server " + conn_->peer() +
                          ": no mechanism available",
                      "4.7.0", false);
  }
  // The steps still to send, each the answer to a 334; the last reply must be 235.
  auto steps = std::make_shared<std::vector<std::string>>();
  std::string first = "AUTH " + mech;
  if (mech == "PLAIN") {
    first += " " + smtp::EncodePlain("", login->user, login->password);
  } else {
    steps->push_back(smtp::Base64Encode(login->user));
    steps->push_back(smtp::Base64Encode(login->password));
  }
  conn_->WriteSecret(first + "\r\n", mech == "PLAIN" ? "AUTH PLAIN (credentials not logged)" : first);
  smtp::WipeSecret(&first);
  AuthStep(mech, login->user, std::move(steps), 0);
}

void Delivery::AuthStep(std::string mech, std::string user, std::shared_ptr<std::vector<std::string>> steps,
                        size_t next) {
  auto self = shared_from_this();
  conn_->Expect("performing the AUTH handshake", s_.helo_ms,
                [self, mech, user, steps, next](Result<smtp::Reply> r) {
                  if (self->finished_) return;
                  if (!r) return self->SiteFailed(r.error(), "4.4.2", false);
                  if (r->code == 334 && next < steps->size()) {
                    self->conn_->WriteSecret((*steps)[next] + "\r\n", "(credentials not logged)");
                    smtp::WipeSecret(&(*steps)[next]);
                    return self->AuthStep(mech, user, steps, next + 1);
                  }
                  for (std::string& s : *steps) smtp::WipeSecret(&s);
                  if (r->code / 100 == 2) {
                    log::Verbose("{}: authenticated to {} as {} with {}", self->msgid_, self->conn_->peer(), user,
                                 mech);
                    return self->Transaction();
                  }
                  std::string dsn = ReplyDsn(*r);
                  dsn[0] = '4';  // a refused login is the sender's configuration: retry, never bounce
                  if (r->code == 334) {
                    // A challenge we have no answer to: end the exchange as RFC 4954 says.
                    self->conn_->Write("*\r\n");
                  }
                  self->SiteFailed("SASL authentication failed; server " + self->conn_->peer() +
                                       " said: " + ReplyText(*r),
                                   dsn, false);
                });
}

}  // namespace postern::smtp_client
