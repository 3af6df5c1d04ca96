// tls/digest_test.cc — the running digest against known MD5 values.
#include "postern/tls/digest.h"

#include <gtest/gtest.h>

namespace postern::tls {
namespace {

TEST(Digest, Md5InPiecesEqualsMd5AtOnce) {
  Digest d(GNUTLS_DIG_MD5);
  EXPECT_EQ(d.Hex(), "d41d8cd98f00b204e9800998ecf8427e");  // nothing fed
  d.Update("The quick brown fox ");
  d.Update("jumps over the lazy dog");
  EXPECT_EQ(d.Hex(), "9e107d9d372bb6826bd81d3542a419d6");
  d.Update("abc");  // Hex started it again
  EXPECT_EQ(d.Hex(), "900150983cd24fb0d6963f7d28e17f72");
}

}  // namespace
}  // namespace postern::tls
