// tests/fuzz/fuzz_mta_sts.cc — libFuzzer target for what an MTA-STS lookup
// reads from the network: the HTTPS response (http/response.h, with limits
// from the first byte, as a whole and cut at every 7th byte) and the policy
// file and TXT record in it (sts/policy.h). Parsed policies must satisfy
// their invariants and survive the policy cache's form unchanged.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "postern/http/response.h"
#include "postern/sts/policy.h"

using namespace postern;

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckPolicy(std::string_view text) {
  auto p = sts::ParsePolicy(text);
  if (!p) return;
  Check(p->max_age <= sts::kMaxAge);
  Check(p->mode == sts::Mode::kNone || !p->mx.empty());
  for (const std::string& mx : p->mx) Check(sts::MxAllowed(*p, mx.starts_with("*.") ? "a" + mx.substr(1) : mx));
  std::string id;
  auto back = sts::Decode(sts::Encode(*p, "id1"), &id);
  Check(back && id == "id1" && back->mx == p->mx && back->mode == p->mode && back->max_age == p->max_age);
  Check(sts::TlsPolicyText(*p).starts_with("secure match="));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  http::ResponseLimits lim{size_t(data[0]) * 8 + 8, size_t(data[0]) * 16 + 1};
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  http::Response r = http::ParseResponse(in, true, lim);
  if (r.state == http::Response::State::kComplete) {
    Check(r.body.size() <= lim.max_body && r.status >= 100 && r.status <= 999);
    CheckPolicy(r.body);
  }
  for (size_t cut = 0; cut < in.size(); cut += 7) {
    http::Response part = http::ParseResponse(in.substr(0, cut), false, lim);
    if (part.state == http::Response::State::kComplete) Check(part.body.size() <= lim.max_body);
  }
  CheckPolicy(in);
  std::vector<std::string> txt{std::string(in.substr(0, in.size() / 2)), std::string(in.substr(in.size() / 2))};
  if (auto id = sts::ParseTxtId(txt)) Check(!id->empty() && id->size() <= 32);
  return 0;
}
