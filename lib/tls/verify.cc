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

// The DER SubjectPublicKeyInfo of a DER certificate; "" when it does not parse.
std::string Spki(const gnutls_datum_t& cert) {
  std::string out;
  gnutls_pubkey_t key = nullptr;
  if (gnutls_pubkey_init(&key) < 0) return out;
  gnutls_datum_t spki{nullptr, 0};
  if (gnutls_pubkey_import_x509_raw(key, &cert, GNUTLS_X509_FMT_DER, 0) >= 0 &&
      gnutls_pubkey_export2(key, GNUTLS_X509_FMT_DER, &spki) >= 0) {
    out.assign(reinterpret_cast<const char*>(spki.data), spki.size);
    gnutls_free(spki.data);
  }
  gnutls_pubkey_deinit(key);
  return out;
}

std::string_view View(const gnutls_datum_t& d) { return {reinterpret_cast<const char*>(d.data), d.size}; }

// Whether one TLSA record's association data is this certificate's.
bool TlsaMatchesCert(const dns::Tlsa& t, const gnutls_datum_t& cert) {
  std::string selected = t.selector == 0 ? std::string(View(cert)) : Spki(cert);
  if (selected.empty()) return false;
  std::string_view want(reinterpret_cast<const char*>(t.data.data()), t.data.size());
  if (t.mtype == 0) return selected == want;
  gnutls_digest_algorithm_t alg = t.mtype == 1 ? GNUTLS_DIG_SHA256 : GNUTLS_DIG_SHA512;
  unsigned char md[64];
  size_t len = gnutls_hash_get_len(alg);
  if (gnutls_hash_fast(alg, selected.data(), selected.size(), md) < 0) return false;
  return want == std::string_view(reinterpret_cast<const char*>(md), len);
}

// Owns parsed certificates.
struct CertList {
  std::vector<gnutls_x509_crt_t> crts;
  ~CertList() {
    for (auto c : crts) gnutls_x509_crt_deinit(c);
  }
  bool Add(const gnutls_datum_t& der) {
    gnutls_x509_crt_t c = nullptr;
    if (gnutls_x509_crt_init(&c) < 0) return false;
    if (gnutls_x509_crt_import(c, &der, GNUTLS_X509_FMT_DER) < 0) {
      gnutls_x509_crt_deinit(c);
      return false;
    }
    crts.push_back(c);
    return true;
  }
};

// DANE-TA: chain[0..ta] verifies with chain[ta] as the only trust anchor, and
// the leaf carries one of the names.
bool ChainsToAnchor(const std::vector<gnutls_datum_t>& chain, size_t ta, const std::vector<std::string>& names,
                    std::string* detail) {
  CertList certs;
  for (size_t i = 0; i <= ta; ++i)
    if (!certs.Add(chain[i])) return *detail = "unparsable certificate in the chain", false;
  gnutls_x509_trust_list_t list = nullptr;
  if (gnutls_x509_trust_list_init(&list, 0) < 0) return *detail = "no memory", false;
  gnutls_x509_crt_t anchor = nullptr;
  gnutls_x509_crt_init(&anchor);
  gnutls_x509_crt_import(anchor, &chain[ta], GNUTLS_X509_FMT_DER);
  gnutls_x509_trust_list_add_cas(list, &anchor, 1, 0);  // the list owns anchor now
  unsigned status = 0;
  int rc = ta == 0 ? 0
                   : gnutls_x509_trust_list_verify_crt(list, certs.crts.data(), unsigned(ta), 0, &status, nullptr);
  gnutls_x509_trust_list_deinit(list, 1);
  if (rc < 0 || status != 0) return *detail = "the chain does not lead to the DANE-TA trust anchor", false;
  for (const std::string& n : names)
    if (gnutls_x509_crt_check_hostname2(certs.crts[0], n.c_str(), 0)) return true;
  *detail = "DANE-TA: the certificate matches none of";
  for (size_t i = 0; i < names.size(); ++i) *detail += (i ? ", " : " ") + names[i];
  return false;
}

}  // namespace

bool UsableTlsa(const dns::Tlsa& t) {
  return (t.usage == 2 || t.usage == 3) && t.selector <= 1 && t.mtype <= 2 && !t.data.empty();
}

std::vector<gnutls_datum_t> PeerChain(gnutls_session_t s) {
  unsigned n = 0;
  const gnutls_datum_t* certs = gnutls_certificate_get_peers(s, &n);
  if (gnutls_certificate_type_get(s) != GNUTLS_CRT_X509 || !certs) return {};
  return std::vector<gnutls_datum_t>(certs, certs + n);
}

bool DaneMatches(const std::vector<dns::Tlsa>& records, const std::vector<gnutls_datum_t>& chain,
                 const std::vector<std::string>& names, std::string* detail) {
  if (chain.empty()) return *detail = "no server certificate", false;
  std::string why = "no TLSA record matches the server certificate chain";
  for (const dns::Tlsa& t : records) {
    if (!UsableTlsa(t)) continue;
    if (t.usage == 3 && TlsaMatchesCert(t, chain[0])) return true;
    if (t.usage != 2) continue;
    for (size_t i = 0; i < chain.size(); ++i)
      if (TlsaMatchesCert(t, chain[i]) && ChainsToAnchor(chain, i, names, &why)) return true;
  }
  *detail = why;
  return false;
}

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
  std::string spki = Spki(certs[0]);
  if (!spki.empty()) {
    gnutls_datum_t d{reinterpret_cast<unsigned char*>(spki.data()), unsigned(spki.size())};
    fp.pubkey = Fingerprint(alg, d);
  }
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
