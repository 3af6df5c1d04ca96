// tls/digest.cc — the running digest; see digest.h.
#include "postern/tls/digest.h"

#include <vector>

namespace postern::tls {

Digest::Digest(gnutls_digest_algorithm_t alg) : alg_(alg) {
  if (gnutls_hash_init(&h_, alg) < 0) h_ = nullptr;
}

Digest::~Digest() {
  if (h_) gnutls_hash_deinit(h_, nullptr);
}

void Digest::Update(std::string_view data) {
  if (h_ && !data.empty()) gnutls_hash(h_, data.data(), data.size());
}

std::string Digest::Hex() {
  if (!h_) return "";
  std::vector<unsigned char> out(gnutls_hash_get_len(alg_));
  gnutls_hash_output(h_, out.data());  // also resets the state
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char b : out) {
    hex += kHex[b >> 4];
    hex += kHex[b & 15];
  }
  return hex;
}

}  // namespace postern::tls
