// tls/verify.h — the client's certificate checks that need no configured CA:
// digests of the peer's certificate and public key (Postfix's fingerprint
// level), DANE TLSA matching (RFC 7672), and the cipher exclusions of
// smtp_tls_exclude_ciphers mapped to GnuTLS.
#pragma once

#include <gnutls/gnutls.h>

#include <string>
#include <string_view>
#include <vector>

#include "postern/dns/answer.h"
#include "postern/util/result.h"

namespace postern::tls {

// Postfix's digest names (md5, sha1, sha224, sha256, sha384, sha512).
Result<gnutls_digest_algorithm_t> DigestByName(std::string_view name);

// The digest as Postfix prints a fingerprint: upper-case hex pairs joined by ':'.
std::string Fingerprint(gnutls_digest_algorithm_t alg, const gnutls_datum_t& data);

// The fingerprints of the peer's leaf certificate (over its DER form) and of
// its public key (over the DER SubjectPublicKeyInfo); empty without a certificate.
struct PeerFingerprints {
  std::string cert, pubkey;
};
PeerFingerprints PeerFingerprint(gnutls_session_t s, gnutls_digest_algorithm_t alg);

// Whether a configured fingerprint names `have`: case does not matter and the
// colons are optional (Postfix >= 3.6).
bool FingerprintEquals(std::string_view want, std::string_view have);

// RFC 7672 §3.1: SMTP uses DANE-TA(2) and DANE-EE(3) only, with selector 0
// (certificate) or 1 (public key) and matching type 0 (full), 1 (SHA2-256)
// or 2 (SHA2-512); PKIX-TA(0) and PKIX-EE(1) records are unusable.
bool UsableTlsa(const dns::Tlsa& t);

// Matches a server's chain (leaf first, DER) against TLSA records. DANE-EE:
// the leaf matches, nothing else is checked (no names, no expiry). DANE-TA:
// a certificate of the chain matches, the leaf chains up to it, and one of
// `names` (the TLSA base domain, the next hop) matches the leaf. False with
// the reason in `detail` otherwise.
bool DaneMatches(const std::vector<dns::Tlsa>& records, const std::vector<gnutls_datum_t>& chain,
                 const std::vector<std::string>& names, std::string* detail);

// The peer's chain as DER data (owned by the session).
std::vector<gnutls_datum_t> PeerChain(gnutls_session_t s);

// The GnuTLS priority additions ("-ARCFOUR-128:-3DES-CBC") that remove the
// OpenSSL cipher names and classes of smtp_tls_exclude_ciphers ("aNULL, RC4,
// 3DES, AES256, CHACHA20, CAMELLIA, SHA1, MD5, kRSA, DHE, ECDHE" ...).
// An unknown name is an error.
Result<std::string> ExcludeCiphers(std::string_view names);

}  // namespace postern::tls
