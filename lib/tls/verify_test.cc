// tls/verify_test.cc — digests as Postfix prints fingerprints, their
// comparison, and smtp_tls_exclude_ciphers names as GnuTLS priorities.
#include "postern/tls/verify.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace postern::tls
