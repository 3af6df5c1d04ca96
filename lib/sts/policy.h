// sts/policy.h — MTA-STS (RFC 8461) as data: the `_mta-sts` TXT record's
// policy id, the policy file (version, mode, mx patterns, max_age), MX name
// matching, the form kept in the policy cache, and the TLS policy an
// enforced policy means to the smtp client. Network input: fuzzed
// (tests/fuzz/fuzz_mta_sts.cc).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "postern/util/result.h"

namespace postern::sts {

enum class Mode { kNone, kTesting, kEnforce };
std::string_view ModeName(Mode m);

struct Policy {
  Mode mode = Mode::kNone;
  std::vector<std::string> mx;  // lower case, "*.example.net" for a wildcard
  uint64_t max_age = 0;         // seconds, at most 31557600
};

// RFC 8461 §3.2: the policy file, CRLF (or LF) separated "key: value" lines;
// unknown keys are ignored, mx may repeat. At most kMaxPolicy bytes.
constexpr size_t kMaxPolicy = 65536;
constexpr uint64_t kMaxAge = 31557600;
Result<Policy> ParsePolicy(std::string_view text);

// RFC 8461 §3.1: of the TXT records at _mta-sts.DOMAIN, the one starting
// "v=STSv1": its id (1-32 letters and digits). An error when there is none,
// more than one, or it is malformed (all mean "no policy record").
Result<std::string> ParseTxtId(const std::vector<std::string>& records);

// RFC 8461 §4.1: an MX host name matches a pattern exactly, or a "*."
// pattern with exactly one more label on the left; case and a final dot
// do not matter.
bool MxMatches(std::string_view pattern, std::string_view host);
bool MxAllowed(const Policy& p, std::string_view host);

// What the policy cache keeps under "sts:DOMAIN": the id, then the policy
// in its file form.
std::string Encode(const Policy& p, std::string_view id);
Result<Policy> Decode(std::string_view stored, std::string* id);

// An enforced policy as a TLS policy entry (postfix-mta-sts-resolver's form):
// "secure match=mx1.example.com:.example.net servername=hostname".
std::string TlsPolicyText(const Policy& p);

}  // namespace postern::sts
