// tls/digest.h — a running message digest (GnuTLS's gnutls_hash) fed in
// pieces as content streams by, read once at the end as lower-case hex.
#pragma once

#include <gnutls/crypto.h>

#include <string>
#include <string_view>

namespace postern::tls {

class Digest {
 public:
  explicit Digest(gnutls_digest_algorithm_t alg);
  ~Digest();
  Digest(const Digest&) = delete;
  Digest& operator=(const Digest&) = delete;
  void Update(std::string_view data);
  // The digest of everything fed so far; the digest starts again afterwards.
  std::string Hex();

 private:
  gnutls_hash_hd_t h_ = nullptr;
  gnutls_digest_algorithm_t alg_;
};

}  // namespace postern::tls
