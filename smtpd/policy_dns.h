// smtpd/policy_dns.h — the DNS facts restrictions ask for (DNS lists, unknown
// domains, HELO names), as the resumable evaluation requests them from the
// session, and the process-wide cache that keeps answers for their TTL.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "smtpd/rbl.h"

namespace postern::smtpd {

// One lookup a restriction waits for.
struct DnsQuery {
  enum class Kind : uint8_t {
    kAddress,     // A records of a DNS list name
    kTxt,         // TXT of a listed name: the reason
    kMailDomain,  // MX, else A/AAAA of a domain: does it exist for mail (null MX)?
    kMxHosts,     // the MX host names of a domain (the domain itself without MX)
    kNsHosts,     // the NS host names of a domain
  };
  Kind kind = Kind::kAddress;
  std::string name;
  std::string Key() const;
};

// What a lookup found, in the terms the restrictions act on.
struct DnsFact {
  enum class Result : uint8_t { kFound, kNotFound, kTempFail, kNullMx };
  Result result = Result::kNotFound;
  std::vector<std::string> values;  // addresses (kAddress), TXT strings (kTxt) or host names
  std::string reason;               // the resolver's words for a failure, for logs
};

// Answers by DnsQuery::Key for their TTL, bounded in size; the smtpd process
// shares it across sessions (Postfix caches per session; one loop allows more).
class DnsCache {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kMaxEntries = 10000;
  const DnsFact* Find(const std::string& key, Clock::time_point now) const;
  void Put(std::string key, DnsFact fact, uint32_t ttl, Clock::time_point now);
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    DnsFact fact;
    Clock::time_point expires;
  };
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace postern::smtpd
