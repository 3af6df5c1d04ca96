// smtp/tls_session_test.cc — the session cache's file name from Postfix's
// "type:name" and the keys that keep sessions of different servers, next hops,
// policies and SNI names apart.
#include "smtp/tls_session.h"

#include <gtest/gtest.h>

namespace postern::smtp_client {
namespace {

TEST(TlsSessionCache, FilePathFromPostfixSpec) {
  EXPECT_EQ(*TlsSessionCache::FilePath("btree:/var/lib/postern/smtp_scache"), "/var/lib/postern/smtp_scache.lmdb");
  EXPECT_EQ(*TlsSessionCache::FilePath("lmdb:/tmp/x"), "/tmp/x.lmdb");
  EXPECT_EQ(*TlsSessionCache::FilePath("HASH:/tmp/y"), "/tmp/y.lmdb");
  EXPECT_FALSE(TlsSessionCache::FilePath("/var/lib/postern/smtp_scache"));
  EXPECT_FALSE(TlsSessionCache::FilePath("lmdb:"));
  EXPECT_FALSE(TlsSessionCache::FilePath("texthash:/tmp/z"));
}

TEST(TlsSessionCache, KeysSeparateWhatASessionWasMadeFor) {
  const std::string base = TlsSessionCache::Key("smtp", "example.com", "mx[192.0.2.1]:25", "may;;;;;;", "");
  EXPECT_EQ(base, "smtp:example.com&mx[192.0.2.1]:25&&may;;;;;;");
  for (const std::string& other :
       {TlsSessionCache::Key("lmtp", "example.com", "mx[192.0.2.1]:25", "may;;;;;;", ""),
        TlsSessionCache::Key("smtp", "example.net", "mx[192.0.2.1]:25", "may;;;;;;", ""),
        TlsSessionCache::Key("smtp", "example.com", "mx[192.0.2.2]:25", "may;;;;;;", ""),
        TlsSessionCache::Key("smtp", "example.com", "mx[192.0.2.1]:25", "verify;hostname;;;;;", ""),
        TlsSessionCache::Key("smtp", "example.com", "mx[192.0.2.1]:25", "may;;;;;;", "mx.example.com")})
    EXPECT_NE(other, base);
  EXPECT_LE(TlsSessionCache::Key("smtp", std::string(600, 'a'), "h", "p", "").size(), stats::PolicyCache::kMaxKey);
}

}  // namespace
}  // namespace postern::smtp_client
