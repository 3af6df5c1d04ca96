// tls/verify.cc — certificate and public key fingerprints, and OpenSSL cipher
// names to GnuTLS priority removals; see verify.h.
#include "postern/tls/verify.h"

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include <array>

#include "postern/util/strings.h"

namespace postern::tls {

namespace {

struct DigestName {
  std::string_view name;
  gnutls_digest_algorithm_t alg;
};
constexpr std::array<DigestName, 6> kDigests = {{
    {"md5", GNUTLS_DIG_MD5},
    {"sha1", GNUTLS_DIG_SHA1},
    {"sha224", GNUTLS_DIG_SHA224},
    {"sha256", GNUTLS_DIG_SHA256},
    {"sha384", GNUTLS_DIG_SHA384},
    {"sha512", GNUTLS_DIG_SHA512},
}};

// OpenSSL's names in smtp_tls_exclude_ciphers and what they remove in GnuTLS.
struct Exclusion {
  std::string_view openssl, gnutls;
};
constexpr std::array<Exclusion, 22> kExclusions = {{
    {"aNULL", "-ANON-DH:-ANON-ECDH"},
    {"ADH", "-ANON-DH"},
    {"AECDH", "-ANON-ECDH"},
    {"eNULL", "-NULL"},
    {"NULL", "-NULL:-ANON-DH:-ANON-ECDH"},
    {"RC4", "-ARCFOUR-128"},
    {"3DES", "-3DES-CBC"},
    {"DES", "-3DES-CBC"},
    {"CAMELLIA", "-CAMELLIA-128-CBC:-CAMELLIA-256-CBC:-CAMELLIA-128-GCM:-CAMELLIA-256-GCM"},
    {"AES128", "-AES-128-CBC:-AES-128-GCM:-AES-128-CCM"},
    {"AES256", "-AES-256-CBC:-AES-256-GCM:-AES-256-CCM"},
    {"AES", "-AES-128-CBC:-AES-128-GCM:-AES-128-CCM:-AES-256-CBC:-AES-256-GCM:-AES-256-CCM"},
    {"AESGCM", "-AES-128-GCM:-AES-256-GCM"},
    {"AESCCM", "-AES-128-CCM:-AES-256-CCM"},
    {"CHACHA20", "-CHACHA20-POLY1305"},
    {"MD5", "-MD5"},
    {"SHA1", "-SHA1"},
    {"SHA", "-SHA1"},
    {"kRSA", "-RSA"},
    {"RSA", "-RSA"},
    {"DHE", "-DHE-RSA:-DHE-DSS"},
    {"ECDHE", "-ECDHE-RSA:-ECDHE-ECDSA"},
}};

std::string Normal(std::string_view fp) {
  std::string out;
  for (char c : fp)
    if (c != ':') out += char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

Result<gnutls_digest_algorithm_t> DigestByName(std::string_view name) {
  for (const auto& d : kDigests)
    if (EqualsIgnoreCase(name, d.name)) return d.alg;
  return Err("unsupported digest \"" + std::string(name) + "\" (md5, sha1, sha224, sha256, sha384, sha512)");
}

std::string Fingerprint(gnutls_digest_algorithm_t alg, const gnutls_datum_t& data) {
  unsigned char md[64];
  size_t len = gnutls_hash_get_len(alg);
  if (len == 0 || len > sizeof md || gnutls_hash_fast(alg, data.data, data.size, md) < 0) return "";
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (size_t i = 0; i < len; ++i) {
    if (i) out += ':';
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

PeerFingerprints PeerFingerprint(gnutls_session_t s, gnutls_digest_algorithm_t alg) {
  PeerFingerprints fp;
  unsigned n = 0;
  const gnutls_datum_t* certs = gnutls_certificate_get_peers(s, &n);
  if (gnutls_certificate_type_get(s) != GNUTLS_CRT_X509 || !certs || n == 0) return fp;
  fp.cert = Fingerprint(alg, certs[0]);
  gnutls_pubkey_t key = nullptr;
  if (gnutls_pubkey_init(&key) < 0) return fp;
  gnutls_datum_t spki{nullptr, 0};
  if (gnutls_pubkey_import_x509_raw(key, &certs[0], GNUTLS_X509_FMT_DER, 0) >= 0 &&
      gnutls_pubkey_export2(key, GNUTLS_X509_FMT_DER, &spki) >= 0) {
    fp.pubkey = Fingerprint(alg, spki);
    gnutls_free(spki.data);
  }
  gnutls_pubkey_deinit(key);
  return fp;
}

bool FingerprintEquals(std::string_view want, std::string_view have) {
  return !want.empty() && !have.empty() && Normal(want) == Normal(have);
}

Result<std::string> ExcludeCiphers(std::string_view names) {
  std::string out;
  for (const std::string& name : SplitList(names, " \t,:")) {
    const Exclusion* hit = nullptr;
    for (const auto& e : kExclusions)
      if (name == e.openssl) hit = &e;
    if (!hit)
      return Err("cipher \"" + name + "\" is not one postern can exclude (aNULL, eNULL, RC4, 3DES, DES, CAMELLIA, " +
                 "AES, AES128, AES256, AESGCM, AESCCM, CHACHA20, MD5, SHA1, kRSA, DHE, ECDHE)");
    out += ":" + std::string(hit->gnutls);
  }
  return out;
}

}  // namespace postern::tls
