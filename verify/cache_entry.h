// verify/cache_entry.h — how verify(8) keeps a probe's result in the policy
// cache (smtpf's keys and digits) and when a cached result needs a new probe.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "postern/ipc/verify.h"

namespace postern::verify {

// address_verify_{positive,negative}_{expire,refresh}_time, _negative_cache.
struct Lifetimes {
  uint64_t positive_expire = 31 * 86400, positive_refresh = 7 * 86400;
  uint64_t negative_expire = 3 * 86400, negative_refresh = 3 * 3600;
  bool negative_cache = true;
};

// smtpf's keys: "rcpt:user@example.com", "sav:user@example.com" and the
// sender's domain "sav:example.com". Addresses are compared without case.
std::string AddressKey(ipc::VerifyKind kind, std::string_view address);
std::string DomainKey(std::string_view address);  // "" for an address without a domain

// The value: the digit (2 deliverable, 4 unknown, 5 undeliverable), a space,
// the reason. nullopt for anything else.
std::string FormatValue(const ipc::VerifyAnswer& a);
std::optional<ipc::VerifyAnswer> ParseValue(std::string_view value);

// How long a result stays (0: not cached at all, a failure without
// address_verify_negative_cache).
uint64_t ExpireTime(ipc::VerifyStatus s, const Lifetimes& l);
// True when a cached result that expires at `expires` is older than its
// refresh time: it is still the answer, and a new probe runs behind it.
bool NeedsRefresh(ipc::VerifyStatus s, std::time_t expires, std::time_t now, const Lifetimes& l);

// What a sender probe says of the sender's whole domain: its mail server
// answered RCPT (deliverable domain), or the failure came before RCPT
// (no server, no MX, connection refused: the domain's own result).
ipc::VerifyAnswer DomainResult(const ipc::VerifyAnswer& probe);

}  // namespace postern::verify
