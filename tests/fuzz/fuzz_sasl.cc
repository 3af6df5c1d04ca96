// tests/fuzz/fuzz_sasl.cc — libFuzzer target for AUTH input: the command's
// mechanism and initial response, strict base64 (decoding is the inverse of
// encoding, limits hold), PLAIN messages and LOGIN user names.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "postern/smtp/sasl.h"
#include "tests/fuzz/check.h"

using namespace postern::smtp;
using postern::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto c = ParseAuthCommand(in)) {
    Check(!c->mechanism.empty() && c->mechanism.size() <= kSaslMechanismMax);
    Check(!c->initial || c->initial->size() <= kSaslResponseMax);
  }
  (void)IsSaslCancel(in);
  size_t limit = kSaslFieldMax * 3 + 2;
  if (auto d = Base64Decode(in, limit)) {
    Check(d->size() <= limit);
    Check(Base64Encode(*d) == in);  // only canonical base64 decodes
    if (auto p = ParsePlain(*d)) {
      Check(!p->authcid.empty() && !p->passwd.empty());
      Check(IsValidSaslField(p->authzid) && IsValidSaslField(p->authcid) && IsValidSaslField(p->passwd));
      auto again = Base64Decode(EncodePlain(p->authzid, p->authcid, p->passwd), limit);
      Check(again && *again == *d);
    }
  }
  // Raw bytes as a decoded PLAIN message and as a LOGIN user name.
  if (auto p = ParsePlain(in)) Check(p->authcid.size() <= kSaslFieldMax);
  if (IsValidSaslUsername(in)) Check(in.size() <= kSaslFieldMax && in.find('\r') == std::string_view::npos);
  auto round = Base64Decode(Base64Encode(in), size);
  Check(round && *round == in);
  return 0;
}
