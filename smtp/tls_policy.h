// smtp/tls_policy.h — the smtp/lmtp client's TLS policy (smtp_tls_*): the
// security level of a next hop (main.cf, or smtp_tls_policy_maps by
// destination), the names its certificate must match, and the GnuTLS
// configuration of a handshake. The STARTTLS exchange is in starttls.cc.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postern/config/maincf.h"
#include "postern/table/table.h"
#include "postern/tls/tls.h"
#include "postern/util/result.h"
#include "smtp/tls_session.h"

namespace postern::smtp_client {

// Postfix's levels. fingerprint: the certificate or its public key has one of
// the listed digests (no CA). dane: RFC 7672, TLSA records from DNSSEC-validated
// DNS decide per server (none usable and secure: may); dane-only: the same,
// but a server without them gets no mail.
enum class TlsLevel { kNone, kMay, kEncrypt, kFingerprint, kVerify, kSecure, kDane, kDaneOnly };
std::string_view TlsLevelName(TlsLevel l);
Result<TlsLevel> ParseTlsLevel(std::string_view word);

struct TlsPolicy {
  TlsLevel level = TlsLevel::kNone;
  // verify/secure: strategies and names; fingerprint: digests; empty: the level's default
  std::vector<std::string> match;
  std::string protocols, ciphers;  // empty: smtp_tls_(mandatory_)protocols/ciphers
  std::string exclude;             // more ciphers to exclude (OpenSSL names)
  std::string servername;          // SNI: empty: smtp_tls_servername

  bool dane() const { return level == TlsLevel::kDane || level == TlsLevel::kDaneOnly; }
  bool required() const { return level >= TlsLevel::kEncrypt && level != TlsLevel::kDane; }
  // A CA-signed certificate with a matching name.
  bool verifies() const { return level == TlsLevel::kVerify || level == TlsLevel::kSecure; }
  // The certificate must match match=: names (verify, secure) or digests (fingerprint).
  bool matches() const { return level >= TlsLevel::kFingerprint && !dane(); }
  // What distinguishes it in the connection cache key: a connection is
  // reused only for a request with the same policy.
  std::string Key() const;
};

// A policy table value, Postfix's syntax: "level [match=a:b] [protocols=x:y]
// [ciphers=grade] [exclude=names] [servername=name]", attributes separated by
// white space; fingerprint's match= lists digests separated by "|", and
// several match= attributes add up.
Result<TlsPolicy> ParseTlsPolicy(std::string_view text);

// The smtp_tls_policy_maps keys for a next hop, most specific first: the
// next hop as written, "[host]:port" and "[host]" without MX lookup, else the
// domain and then ".parent" domains (".example.com" matches its subdomains).
std::vector<std::string> TlsPolicyKeys(std::string_view nexthop_text, std::string_view hop_host,
                                       uint16_t hop_port, bool mx_lookup);

// The names a certificate must match: "hostname" is the server's name (the
// MX host), "nexthop" the next-hop domain, "dot-nexthop" its subdomains
// (".domain"); any other word is taken literally (".domain" for subdomains).
std::vector<std::string> MatchNames(const std::vector<std::string>& strategies, std::string_view server_host,
                                    std::string_view nexthop);

// What the process loaded once: the default level, the tables, the trust
// anchors and priorities (built once per protocols/ciphers text).
class TlsClient {
 public:
  // The trust anchors and client certificate, read before the worker drops
  // privileges (the key may be root's, mode 0600); nullptr when the level is
  // none and no policy table is set, as then TLS is never used.
  static Result<std::shared_ptr<tls::Credentials>> LoadCredentials(const config::Config& cfg, bool lmtp);
  // Everything else, with the credentials above; nullptr without them.
  static Result<std::unique_ptr<TlsClient>> Load(const config::Config& cfg, bool lmtp,
                                                 std::shared_ptr<tls::Credentials> creds);

  // The policy of a next hop: the first table entry found under `keys`,
  // else the main.cf level. With "sts:" in smtp_tls_policy_maps, `sts` is
  // what MTA-STS said (an enforced policy) and stands where "sts:" stands:
  // tables before it win, tables after it are asked only without it.
  // An error: a table failed or an entry is bad.
  Result<TlsPolicy> PolicyFor(const std::vector<std::string>& keys, const std::optional<TlsPolicy>& sts = {});
  // "sts:" is in smtp_tls_policy_maps (the MTA-STS resolver is needed).
  bool sts() const { return sts_; }
  // An entry of the tables before "sts:" (those win over MTA-STS); none: ask MTA-STS.
  Result<std::optional<TlsPolicy>> PolicyBeforeSts(const std::vector<std::string>& keys);
  // The handshake configuration of a policy (its priority: the policy's
  // protocols/ciphers, else the mandatory or opportunistic parameters).
  Result<tls::Config> ConfigFor(const TlsPolicy& p);
  // The default match strategies of a level (smtp_tls_verify/secure_cert_match)
  // or fingerprints (smtp_tls_fingerprint_cert_match).
  const std::vector<std::string>& DefaultMatch(TlsLevel l) const {
    return l == TlsLevel::kSecure ? secure_match_ : l == TlsLevel::kFingerprint ? fingerprint_match_ : verify_match_;
  }
  // The SNI name to send: the policy's servername, else smtp_tls_servername;
  // "hostname" is the server's name, "nexthop" the next-hop domain; "" for none.
  std::string ServerName(const TlsPolicy& p, std::string_view server_host, std::string_view nexthop) const;
  gnutls_digest_algorithm_t fingerprint_digest() const { return digest_; }
  std::string_view fingerprint_digest_name() const { return digest_name_; }
  bool wrappermode() const { return wrappermode_; }
  bool dnssec() const { return dnssec_; }  // smtp_dns_support_level = dnssec
  // smtp_tls_dane_insecure_mx_policy: kMay, kEncrypt or kDane.
  TlsLevel dane_insecure_mx_policy() const { return insecure_mx_; }
  // smtp_tls_session_cache_database; null without one.
  TlsSessionCache* sessions() const { return sessions_.get(); }
  int loglevel() const { return loglevel_; }

 private:
  Result<void> LoadOptions(const config::Config& cfg);

  std::string prefix_;  // "smtp" or "lmtp", for messages
  Result<std::optional<TlsPolicy>> Find(table::TableList& maps, const std::vector<std::string>& keys);

  TlsPolicy default_;
  table::TableList maps_;        // smtp_tls_policy_maps before "sts:" (all of them without it)
  table::TableList maps_after_;  // those after "sts:"
  bool sts_ = false;
  std::shared_ptr<tls::Credentials> creds_;
  std::string protocols_, ciphers_, mandatory_protocols_, mandatory_ciphers_;
  std::string exclude_, mandatory_exclude_;  // GnuTLS priority removals
  std::string servername_;
  std::vector<std::string> verify_match_, secure_match_, fingerprint_match_;
  gnutls_digest_algorithm_t digest_ = GNUTLS_DIG_SHA256;
  std::string digest_name_ = "sha256";
  bool wrappermode_ = false;
  bool dnssec_ = false;
  TlsLevel insecure_mx_ = TlsLevel::kMay;
  std::unique_ptr<TlsSessionCache> sessions_;
  std::map<std::string, std::shared_ptr<tls::Priority>> priorities_;
  uint64_t handshake_ms_ = 300000;
  int loglevel_ = 0;
};

}  // namespace postern::smtp_client
