// stats/cache.h — the policy cache database ($policy_cache_database): keys
// with a value and an expiry time, for the anti-abuse checks (greylisting,
// rate and reputation records) and `postern cache`. An expired entry reads
// as missing at once; Sweep() removes expired entries for good.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "postern/stats/db.h"
#include "postern/util/result.h"

namespace postern::stats {

class PolicyCache {
 public:
  static constexpr size_t kMaxKey = 500;       // LMDB's limit is 511
  static constexpr size_t kMaxValue = 65536;

  struct Entry {
    std::string value;
    std::time_t expires = 0;  // 0: never
  };

  static Result<std::unique_ptr<PolicyCache>> Open(const std::string& path);

  Result<std::optional<Entry>> Get(std::string_view key, std::time_t now);
  // ttl 0: the entry never expires.
  Result<void> Put(std::string_view key, std::string_view value, uint64_t ttl_seconds, std::time_t now);
  // False when the key was not there (or had expired).
  Result<bool> Delete(std::string_view key, std::time_t now);
  // Removes every entry expired at `now`; returns how many.
  Result<size_t> Sweep(std::time_t now);

 private:
  PolicyCache() = default;
  mdb::Env env_;
  MDB_dbi dbi_ = 0;
};

}  // namespace postern::stats
