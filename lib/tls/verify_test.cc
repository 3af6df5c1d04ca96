// tls/verify_test.cc — digests as Postfix prints fingerprints, their
// comparison, DANE TLSA matching against chains made here (a CA and a leaf
// for mx.example.org), and smtp_tls_exclude_ciphers names as GnuTLS priorities.
#include "postern/tls/verify.h"

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <gtest/gtest.h>

#include <cstring>
#include <ctime>
#include <tuple>

#include "postern/tls/tls.h"

namespace postern::tls {
namespace {

TEST(Fingerprint, Sha256OfKnownInput) {
  std::string abc = "abc";
  gnutls_datum_t d{reinterpret_cast<unsigned char*>(abc.data()), unsigned(abc.size())};
  EXPECT_EQ(Fingerprint(GNUTLS_DIG_SHA256, d),
            "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD");
  EXPECT_EQ(Fingerprint(GNUTLS_DIG_MD5, d), "90:01:50:98:3C:D2:4F:B0:D6:96:3F:7D:28:E1:7F:72");
}

TEST(Fingerprint, DigestNames) {
  EXPECT_EQ(*DigestByName("sha256"), GNUTLS_DIG_SHA256);
  EXPECT_EQ(*DigestByName("SHA512"), GNUTLS_DIG_SHA512);
  EXPECT_EQ(*DigestByName("md5"), GNUTLS_DIG_MD5);
  EXPECT_FALSE(DigestByName("sha3"));
  EXPECT_FALSE(DigestByName(""));
}

TEST(Fingerprint, ColonsAndCaseAreOptional) {
  const std::string have = "BA:78:16:BF";
  EXPECT_TRUE(FingerprintEquals("ba:78:16:bf", have));
  EXPECT_TRUE(FingerprintEquals("ba7816bf", have));
  EXPECT_TRUE(FingerprintEquals("BA7816BF", have));
  EXPECT_FALSE(FingerprintEquals("ba:78:16:be", have));
  EXPECT_FALSE(FingerprintEquals("ba:78:16", have));
  EXPECT_FALSE(FingerprintEquals("", have));
  EXPECT_FALSE(FingerprintEquals("ba7816bf", ""));
}

TEST(ExcludeCiphers, MapsOpenSslNamesToValidPriorities) {
  EXPECT_EQ(*ExcludeCiphers(""), "");
  EXPECT_EQ(*ExcludeCiphers("RC4, 3DES"), ":-ARCFOUR-128:-3DES-CBC");
  EXPECT_EQ(*ExcludeCiphers("CHACHA20 AES256"), ":-CHACHA20-POLY1305:-AES-256-CBC:-AES-256-GCM:-AES-256-CCM");
  EXPECT_FALSE(ExcludeCiphers("RC4, FANCY"));
  // Every name the table knows must give a priority string GnuTLS accepts.
  for (const char* name : {"aNULL", "ADH", "AECDH", "eNULL", "NULL", "RC4", "3DES", "DES", "CAMELLIA", "AES128",
                           "AES256", "AES", "AESGCM", "AESCCM", "CHACHA20", "MD5", "SHA1", "SHA", "kRSA", "RSA",
                           "DHE", "ECDHE"}) {
    auto ex = ExcludeCiphers(name);
    ASSERT_TRUE(ex) << name;
    auto p = Priority::Parse("NORMAL" + *ex);
    EXPECT_TRUE(p) << name << ": " << (p ? "" : p.error());
  }
  // Excluding every cipher leaves nothing to negotiate: GnuTLS says so.
  EXPECT_FALSE(Priority::Parse("NORMAL" + *ExcludeCiphers("AES CHACHA20 CAMELLIA 3DES RC4 NULL")));
}

// DER certificates: a CA, a leaf for mx.example.org that it signed, and a
// self-signed stranger with the same name.
struct Pki {
  std::string ca, leaf, stranger;
};

std::string Der(gnutls_x509_crt_t c) {
  gnutls_datum_t out{nullptr, 0};
  EXPECT_EQ(gnutls_x509_crt_export2(c, GNUTLS_X509_FMT_DER, &out), 0);
  std::string s(reinterpret_cast<char*>(out.data), out.size);
  gnutls_free(out.data);
  return s;
}

// A certificate for `cn` with `key`, signed by (issuer, issuer_key), or by itself.
std::string MakeCert(const char* cn, bool ca, gnutls_x509_privkey_t key, gnutls_x509_crt_t* keep,
                     gnutls_x509_crt_t issuer, gnutls_x509_privkey_t issuer_key) {
  gnutls_x509_crt_t crt;
  EXPECT_EQ(gnutls_x509_crt_init(&crt), 0);
  gnutls_x509_crt_set_version(crt, 3);
  static unsigned char serial = 1;
  ++serial;
  gnutls_x509_crt_set_serial(crt, &serial, 1);
  gnutls_x509_crt_set_activation_time(crt, time(nullptr) - 60);
  gnutls_x509_crt_set_expiration_time(crt, time(nullptr) + 3600);
  gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, unsigned(strlen(cn)));
  if (!ca) gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, cn, unsigned(strlen(cn)), GNUTLS_FSAN_APPEND);
  gnutls_x509_crt_set_basic_constraints(crt, ca ? 1 : 0, -1);
  if (ca) gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN);
  gnutls_x509_crt_set_key(crt, key);
  EXPECT_EQ(gnutls_x509_crt_sign2(crt, issuer ? issuer : crt, issuer_key ? issuer_key : key, GNUTLS_DIG_SHA256, 0),
            0);
  std::string der = Der(crt);
  if (keep) *keep = crt;
  else gnutls_x509_crt_deinit(crt);
  return der;
}

gnutls_x509_privkey_t NewKey() {
  gnutls_x509_privkey_t key;
  EXPECT_EQ(gnutls_x509_privkey_init(&key), 0);
  EXPECT_EQ(gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0), 0);
  return key;
}

const Pki& TestPki() {
  static const Pki pki = [] {
    Pki p;
    gnutls_x509_privkey_t ca_key = NewKey(), leaf_key = NewKey(), other_key = NewKey();
    gnutls_x509_crt_t ca = nullptr;
    p.ca = MakeCert("Test DANE CA", true, ca_key, &ca, nullptr, nullptr);
    p.leaf = MakeCert("mx.example.org", false, leaf_key, nullptr, ca, ca_key);
    p.stranger = MakeCert("mx.example.org", false, other_key, nullptr, nullptr, nullptr);
    gnutls_x509_crt_deinit(ca);
    for (auto k : {ca_key, leaf_key, other_key}) gnutls_x509_privkey_deinit(k);
    return p;
  }();
  return pki;
}

gnutls_datum_t Datum(const std::string& s) {
  return {reinterpret_cast<unsigned char*>(const_cast<char*>(s.data())), unsigned(s.size())};
}

std::string SpkiOf(const std::string& der) {
  gnutls_pubkey_t key;
  gnutls_pubkey_init(&key);
  gnutls_datum_t d = Datum(der), out{nullptr, 0};
  EXPECT_GE(gnutls_pubkey_import_x509_raw(key, &d, GNUTLS_X509_FMT_DER, 0), 0);
  EXPECT_GE(gnutls_pubkey_export2(key, GNUTLS_X509_FMT_DER, &out), 0);
  std::string s(reinterpret_cast<char*>(out.data), out.size);
  gnutls_free(out.data);
  gnutls_pubkey_deinit(key);
  return s;
}

// A TLSA record as a DNS answer would carry it.
dns::Tlsa Record(uint8_t usage, uint8_t selector, uint8_t mtype, const std::string& cert_der) {
  std::string selected = selector == 0 ? cert_der : SpkiOf(cert_der);
  std::string data = selected;
  if (mtype != 0) {
    auto alg = mtype == 1 ? GNUTLS_DIG_SHA256 : GNUTLS_DIG_SHA512;
    data.assign(gnutls_hash_get_len(alg), '\0');
    gnutls_hash_fast(alg, selected.data(), selected.size(), data.data());
  }
  dns::Tlsa t;
  t.usage = usage, t.selector = selector, t.mtype = mtype;
  t.data.assign(data.begin(), data.end());
  return t;
}

struct DaneCase {
  std::string what;
  std::vector<dns::Tlsa> records;
  std::vector<std::string> chain;  // DER, leaf first
  std::vector<std::string> names;
  bool want;
};

TEST(Dane, MatchesEndEntityAndTrustAnchorRecords) {
  const Pki& p = TestPki();
  const std::vector<std::string> mx = {"mx.example.org"};
  const DaneCase cases[] = {
      {"DANE-EE SPKI SHA2-256", {Record(3, 1, 1, p.leaf)}, {p.leaf, p.ca}, {}, true},
      {"DANE-EE full certificate", {Record(3, 0, 0, p.leaf)}, {p.leaf}, {}, true},
      {"DANE-EE certificate SHA2-512", {Record(3, 0, 2, p.leaf)}, {p.leaf}, {}, true},
      {"DANE-EE ignores names", {Record(3, 1, 1, p.leaf)}, {p.leaf}, {"elsewhere.example"}, true},
      {"DANE-EE of another key", {Record(3, 1, 1, p.stranger)}, {p.leaf, p.ca}, {}, false},
      {"DANE-EE never matches an issuer", {Record(3, 0, 1, p.ca)}, {p.leaf, p.ca}, mx, false},
      {"DANE-TA certificate SHA2-256", {Record(2, 0, 1, p.ca)}, {p.leaf, p.ca}, mx, true},
      {"DANE-TA SPKI SHA2-512", {Record(2, 1, 2, p.ca)}, {p.leaf, p.ca}, mx, true},
      {"DANE-TA wrong name", {Record(2, 0, 1, p.ca)}, {p.leaf, p.ca}, {"other.example"}, false},
      {"DANE-TA not in the chain", {Record(2, 0, 1, p.ca)}, {p.leaf}, mx, false},
      {"DANE-TA, leaf not issued by it", {Record(2, 0, 1, p.ca)}, {p.stranger, p.ca}, mx, false},
      {"PKIX-EE is unusable for SMTP", {Record(1, 1, 1, p.leaf)}, {p.leaf}, mx, false},
      {"PKIX-TA is unusable for SMTP", {Record(0, 0, 1, p.ca)}, {p.leaf, p.ca}, mx, false},
      {"one of several records", {Record(3, 1, 1, p.stranger), Record(2, 0, 1, p.ca)}, {p.leaf, p.ca}, mx, true},
      {"no certificate", {Record(3, 1, 1, p.leaf)}, {}, mx, false},
  };
  for (const auto& c : cases) {
    std::vector<gnutls_datum_t> chain;
    for (const auto& der : c.chain) chain.push_back(Datum(der));
    std::string detail;
    EXPECT_EQ(DaneMatches(c.records, chain, c.names, &detail), c.want) << c.what << ": " << detail;
    if (!c.want) EXPECT_FALSE(detail.empty()) << c.what;
  }
}

TEST(Dane, UsableRecords) {
  dns::Tlsa t;
  t.data = {1, 2, 3};
  for (auto [usage, selector, mtype, want] : {std::tuple{3, 1, 1, true}, std::tuple{2, 0, 0, true},
                                              std::tuple{3, 0, 2, true}, std::tuple{1, 1, 1, false},
                                              std::tuple{0, 1, 1, false}, std::tuple{3, 2, 1, false},
                                              std::tuple{3, 1, 3, false}, std::tuple{4, 1, 1, false}}) {
    t.usage = uint8_t(usage), t.selector = uint8_t(selector), t.mtype = uint8_t(mtype);
    EXPECT_EQ(UsableTlsa(t), want) << usage << " " << selector << " " << mtype;
  }
  t = {};
  t.usage = 3;
  EXPECT_FALSE(UsableTlsa(t));  // no data
}

}  // namespace
}  // namespace postern::tls
