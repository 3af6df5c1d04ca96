// smtp/tls_policy.cc — smtp_tls_* parameters, policy table entries and
// certificate match names; see tls_policy.h.
#include "smtp/tls_policy.h"

#include <tuple>

#include "postern/dns/address.h"
#include "postern/table/surrogate.h"
#include "postern/tls/verify.h"
#include "postern/util/strings.h"
#include "smtp/nexthop.h"

namespace postern::smtp_client {

namespace {

constexpr std::string_view kLevels[] = {"none", "may", "encrypt", "fingerprint", "verify", "secure", "dane", "dane-only"};

std::string Join(const std::vector<std::string>& v, char sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? std::string(1, sep) : "") + v[i];
  return out;
}

}  // namespace

std::string_view TlsLevelName(TlsLevel l) { return kLevels[size_t(l)]; }

Result<TlsLevel> ParseTlsLevel(std::string_view word) {
  if (word.empty()) return TlsLevel::kNone;
  for (size_t i = 0; i < std::size(kLevels); ++i)
    if (EqualsIgnoreCase(word, kLevels[i])) return TlsLevel(i);
  return Err("unknown TLS security level \"" + std::string(word) +
             "\" (none, may, encrypt, fingerprint, verify, secure, dane, dane-only)");
}

std::string TlsPolicy::Key() const {
  if (level == TlsLevel::kNone) return "none";
  return std::string(TlsLevelName(level)) + ";" + Join(match, '|') + ";" + protocols + ";" + ciphers + ";" + exclude +
         ";" + servername;
}

Result<TlsPolicy> ParseTlsPolicy(std::string_view text) {
  auto words = SplitList(text, " \t\r\n");
  if (words.empty()) return Err("empty TLS policy");
  TlsPolicy p;
  auto level = ParseTlsLevel(words[0]);
  if (!level) return Err(level.error());
  p.level = *level;
  for (size_t i = 1; i < words.size(); ++i) {
    const std::string& w = words[i];
    size_t eq = w.find('=');
    std::string name = ToLower(w.substr(0, eq));
    std::string value = eq == std::string::npos ? "" : w.substr(eq + 1);
    if (eq == std::string::npos || value.empty()) return Err("TLS policy attribute \"" + w + "\" has no value");
    if (name == "match") {
      if (!p.matches())
        return Err("TLS policy attribute match= needs level fingerprint, verify or secure, not " +
                   std::string(TlsLevelName(p.level)));
      // Fingerprints have colons of their own: they are separated by "|".
      for (std::string& m : SplitList(value, p.verifies() ? ":" : "|")) p.match.push_back(std::move(m));
    } else if (name == "protocols") {
      p.protocols = value;
    } else if (name == "ciphers") {
      p.ciphers = value;
    } else if (name == "exclude") {
      auto ex = tls::ExcludeCiphers(value);
      if (!ex) return Err("TLS policy: " + ex.error());
      p.exclude = value;
    } else if (name == "servername") {
      p.servername = value;
    } else {
      return Err("TLS policy attribute \"" + name + "\" is not match, protocols, ciphers, exclude or servername");
    }
  }
  if (!p.protocols.empty() || !p.ciphers.empty()) {
    // Checked now, so that a bad entry says so instead of failing a handshake.
    auto prio = tls::PriorityString(p.protocols.empty() ? ">=TLSv1" : p.protocols,
                                    p.ciphers.empty() ? "medium" : p.ciphers);
    if (!prio) return Err("TLS policy: " + prio.error());
  }
  return p;
}

std::vector<std::string> TlsPolicyKeys(std::string_view nexthop_text, std::string_view hop_host, uint16_t hop_port,
                                       bool mx_lookup) {
  std::vector<std::string> keys = NexthopKeys(nexthop_text, hop_host, hop_port, mx_lookup);
  if (!mx_lookup) return keys;
  std::string host(hop_host);
  AddLookupKey(&keys, host);
  for (size_t dot = host.find('.'); dot != std::string::npos; dot = host.find('.', dot + 1))
    AddLookupKey(&keys, host.substr(dot));
  return keys;
}

std::vector<std::string> MatchNames(const std::vector<std::string>& strategies, std::string_view server_host,
                                    std::string_view nexthop) {
  std::vector<std::string> names;
  for (const std::string& s : strategies) {
    if (EqualsIgnoreCase(s, "hostname")) names.emplace_back(server_host);
    else if (EqualsIgnoreCase(s, "nexthop")) names.emplace_back(nexthop);
    else if (EqualsIgnoreCase(s, "dot-nexthop")) names.push_back("." + std::string(nexthop));
    else names.push_back(s);
  }
  return names;
}

Result<std::shared_ptr<tls::Credentials>> TlsClient::LoadCredentials(const config::Config& cfg, bool lmtp) {
  std::string prefix = lmtp ? "lmtp" : "smtp";
  auto name = [&](std::string_view smtp_name) { return prefix + std::string(smtp_name.substr(4)); };
  auto level = cfg.Get(name("smtp_tls_security_level"));
  auto refs = cfg.GetTables(name("smtp_tls_policy_maps"));
  if (!level) return Err(level.error());
  if (!refs) return Err(refs.error());
  auto wrapper = cfg.GetBool(name("smtp_tls_wrappermode"));
  if (!wrapper) return Err(wrapper.error());
  if ((level->empty() || EqualsIgnoreCase(*level, "none")) && refs->empty() && !*wrapper)
    return std::shared_ptr<tls::Credentials>();
  std::string ca_file, ca_path, cert, key;
  for (auto [n, out] : {std::pair{"smtp_tls_CAfile", &ca_file}, std::pair{"smtp_tls_CApath", &ca_path},
                        std::pair{"smtp_tls_cert_file", &cert}, std::pair{"smtp_tls_key_file", &key}}) {
    auto v = cfg.Get(name(n));
    if (!v) return Err(v.error());
    *out = std::move(*v);
  }
  auto creds = tls::Credentials::Client(ca_file, ca_path, cert, key);
  if (!creds) return Err(prefix + " TLS: " + creds.error());
  return std::move(*creds);
}

Result<std::unique_ptr<TlsClient>> TlsClient::Load(const config::Config& cfg, bool lmtp,
                                                   std::shared_ptr<tls::Credentials> creds) {
  if (!creds) return std::unique_ptr<TlsClient>();
  auto c = std::make_unique<TlsClient>();
  c->prefix_ = lmtp ? "lmtp" : "smtp";
  auto name = [&](std::string_view smtp_name) { return c->prefix_ + std::string(smtp_name.substr(4)); };
  auto level_text = cfg.Get(name("smtp_tls_security_level"));
  if (!level_text) return Err(level_text.error());
  auto level = ParseTlsLevel(*level_text);
  if (!level) return Err(name("smtp_tls_security_level") + ": " + level.error());
  c->default_.level = *level;
  auto refs = cfg.GetTables(name("smtp_tls_policy_maps"));
  if (!refs) return Err(refs.error());
  // A table that does not open defers the deliveries that look it up (4.7.5).
  std::vector<config::TableRef> before, after;
  for (const config::TableRef& r : *refs) {
    if (r.type == "sts") c->sts_ = true;
    else (c->sts_ ? after : before).push_back(r);
  }
  c->maps_ = table::OpenListOrSurrogates(name("smtp_tls_policy_maps"), before);
  c->maps_after_ = table::OpenListOrSurrogates(name("smtp_tls_policy_maps"), after);

  for (auto [n, out] : {std::pair{"smtp_tls_protocols", &c->protocols_}, std::pair{"smtp_tls_ciphers", &c->ciphers_},
                        std::pair{"smtp_tls_mandatory_protocols", &c->mandatory_protocols_},
                        std::pair{"smtp_tls_mandatory_ciphers", &c->mandatory_ciphers_}}) {
    auto v = cfg.Get(name(n));
    if (!v) return Err(v.error());
    *out = std::move(*v);
  }
  for (auto [n, out] : {std::pair{"smtp_tls_verify_cert_match", &c->verify_match_},
                        std::pair{"smtp_tls_secure_cert_match", &c->secure_match_}}) {
    auto v = cfg.GetList(name(n));
    if (!v) return Err(v.error());
    if (v->empty()) return Err(name(n) + ": empty (a certificate would match nothing)");
    *out = std::move(*v);
  }
  auto fingerprints = cfg.GetList(name("smtp_tls_fingerprint_cert_match"));
  if (!fingerprints) return Err(fingerprints.error());
  c->fingerprint_match_ = std::move(*fingerprints);
  if (auto r = c->LoadOptions(cfg); !r) return Err(r.error());
  auto loglevel = cfg.GetInt(name("smtp_tls_loglevel"));
  if (!loglevel) return Err(loglevel.error());
  c->loglevel_ = int(*loglevel);
  auto timeout = cfg.GetTime(name("smtp_starttls_timeout"));
  if (!timeout) return Err(timeout.error());
  c->handshake_ms_ = uint64_t(timeout->count()) * 1000;
  if (c->handshake_ms_ == 0) c->handshake_ms_ = 300000;

  auto sessions = TlsSessionCache::Load(cfg, lmtp);
  if (!sessions) return Err(sessions.error());
  c->sessions_ = std::move(*sessions);

  c->creds_ = std::move(creds);
  // Both priorities are checked now: a typo, or exclusions that leave no
  // cipher, stop the service at start.
  for (auto [p, ci, ex] : {std::tuple{&c->protocols_, &c->ciphers_, c->exclude_},
                           std::tuple{&c->mandatory_protocols_, &c->mandatory_ciphers_,
                                      c->exclude_ + c->mandatory_exclude_}}) {
    auto text = tls::PriorityString(*p, *ci);
    if (!text) return Err(name("smtp_tls_protocols") + "/ciphers: " + text.error());
    if (auto prio = tls::Priority::Parse(*text + ex); !prio)
      return Err(name("smtp_tls_exclude_ciphers") + ": " + prio.error());
  }
  tls::GlobalInit(c->loglevel_);
  return c;
}

// smtp_tls_fingerprint_digest, smtp_tls_(mandatory_)exclude_ciphers,
// smtp_tls_servername, smtp_tls_wrappermode, smtp_dns_support_level and
// smtp_tls_dane_insecure_mx_policy.
Result<void> TlsClient::LoadOptions(const config::Config& cfg) {
  auto name = [&](std::string_view smtp_name) { return prefix_ + std::string(smtp_name.substr(4)); };
  auto digest = cfg.Get(name("smtp_tls_fingerprint_digest"));
  if (!digest) return Err(digest.error());
  auto alg = tls::DigestByName(*digest);
  if (!alg) return Err(name("smtp_tls_fingerprint_digest") + ": " + alg.error());
  digest_ = *alg;
  digest_name_ = ToLower(*digest);
  for (auto [n, out] : {std::pair{"smtp_tls_exclude_ciphers", &exclude_},
                        std::pair{"smtp_tls_mandatory_exclude_ciphers", &mandatory_exclude_}}) {
    auto v = cfg.Get(name(n));
    if (!v) return Err(v.error());
    auto ex = tls::ExcludeCiphers(*v);
    if (!ex) return Err(name(n) + ": " + ex.error());
    *out = std::move(*ex);
  }
  auto servername = cfg.Get(name("smtp_tls_servername"));
  if (!servername) return Err(servername.error());
  servername_ = std::move(*servername);
  auto wrapper = cfg.GetBool(name("smtp_tls_wrappermode"));
  if (!wrapper) return Err(wrapper.error());
  wrappermode_ = *wrapper;
  auto dns_level = cfg.Get(name("smtp_dns_support_level"));
  if (!dns_level) return Err(dns_level.error());
  if (!dns_level->empty() && !EqualsIgnoreCase(*dns_level, "enabled") && !EqualsIgnoreCase(*dns_level, "dnssec"))
    return Err(name("smtp_dns_support_level") + ": \"" + *dns_level +
               "\" is not supported (empty, enabled or dnssec; postern always uses DNS)");
  dnssec_ = EqualsIgnoreCase(*dns_level, "dnssec");
  auto insecure_mx = cfg.Get(name("smtp_tls_dane_insecure_mx_policy"));
  if (!insecure_mx) return Err(insecure_mx.error());
  auto level = ParseTlsLevel(*insecure_mx);
  if (!level || (*level != TlsLevel::kMay && *level != TlsLevel::kEncrypt && *level != TlsLevel::kDane))
    return Err(name("smtp_tls_dane_insecure_mx_policy") + ": \"" + *insecure_mx + "\" is not may, encrypt or dane");
  insecure_mx_ = *level;
  return {};
}

std::string TlsClient::ServerName(const TlsPolicy& p, std::string_view server_host, std::string_view nexthop) const {
  const std::string& how = p.servername.empty() ? servername_ : p.servername;
  std::string name = EqualsIgnoreCase(how, "hostname") ? std::string(server_host)
                     : EqualsIgnoreCase(how, "nexthop") ? std::string(nexthop)
                                                        : how;
  // RFC 6066 §3: an address is never a server name.
  if (dns::IpAddress::Parse(name)) return "";
  return name;
}

Result<std::optional<TlsPolicy>> TlsClient::Find(table::TableList& maps, const std::vector<std::string>& keys) {
  if (maps.empty()) return std::optional<TlsPolicy>();
  for (const std::string& k : keys) {
    auto r = maps.Lookup(k);
    if (!r) return Err(prefix_ + "_tls_policy_maps lookup of " + k + ": " + r.error());
    if (!r->has_value()) continue;
    auto p = ParseTlsPolicy(**r);
    if (!p) return Err(prefix_ + "_tls_policy_maps entry for " + k + ": " + p.error());
    return std::optional<TlsPolicy>(std::move(*p));
  }
  return std::optional<TlsPolicy>();
}

Result<std::optional<TlsPolicy>> TlsClient::PolicyBeforeSts(const std::vector<std::string>& keys) {
  return Find(maps_, keys);
}

Result<TlsPolicy> TlsClient::PolicyFor(const std::vector<std::string>& keys, const std::optional<TlsPolicy>& sts) {
  for (table::TableList* maps : {&maps_, &maps_after_}) {
    auto p = Find(*maps, keys);
    if (!p) return Err(p.error());
    if (p->has_value()) return **p;
    if (maps == &maps_ && sts) return *sts;
  }
  return default_;
}

Result<tls::Config> TlsClient::ConfigFor(const TlsPolicy& p) {
  std::string protocols = !p.protocols.empty() ? p.protocols : p.required() ? mandatory_protocols_ : protocols_;
  std::string ciphers = !p.ciphers.empty() ? p.ciphers : p.required() ? mandatory_ciphers_ : ciphers_;
  auto text = tls::PriorityString(protocols, ciphers);
  if (!text) return Err(text.error());
  auto exclude = tls::ExcludeCiphers(p.exclude);
  if (!exclude) return Err(exclude.error());
  *text += exclude_ + (p.required() ? mandatory_exclude_ : "") + *exclude;
  auto& prio = priorities_[*text];
  if (!prio) {
    auto parsed = tls::Priority::Parse(*text);
    if (!parsed) return Err(parsed.error());
    prio = std::move(*parsed);
  }
  tls::Config cfg;
  cfg.role = tls::Role::kClient;
  cfg.creds = creds_;
  cfg.priority = prio;
  cfg.handshake_timeout_ms = handshake_ms_;
  cfg.loglevel = loglevel_;
  cfg.client_tickets = sessions_ != nullptr;
  return cfg;
}

}  // namespace postern::smtp_client
