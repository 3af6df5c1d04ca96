// stats/cache.h — the policy cache in LMDB ($policy_cache_database as a path):
// records in smtpf's shape (value, hit counter, created, touched, expires) for
// the anti-abuse checks and `postern cache`. An expired record reads as missing
// at once; Sweep() removes expired records for good. policy_cache.h puts this and a
// Redis backend behind one asynchronous interface (namespace cache).
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "postern/stats/db.h"
#include "postern/util/result.h"

namespace postern::stats {

// One policy cache record. The key's kind prefix ("grey:", "msg-limit:",
// "rcpt:" ...) is part of the key, not of the record.
struct CacheRecord {
  std::string value;
  uint64_t hits = 0;         // times Hit() counted it
  std::time_t created = 0;   // first written
  std::time_t touched = 0;   // last written or counted
  std::time_t expires = 0;   // 0: never
};

// The stored form: a 0xff marker, expires, created, touched, hits (8 bytes
// each, big-endian), then the value. A record of the older form (8 bytes of
// expiry, then the value) decodes with zero counters.
std::string EncodeRecord(const CacheRecord& r);
bool DecodeRecord(std::string_view raw, CacheRecord* r);

class PolicyCache {
 public:
  static constexpr size_t kMaxKey = 500;       // LMDB's limit is 511
  static constexpr size_t kMaxValue = 65536;

  using Entry = CacheRecord;

  // path: an LMDB file; a "redis:" spec is refused (lib/cache opens those).
  static Result<std::unique_ptr<PolicyCache>> Open(const std::string& path);

  Result<std::optional<Entry>> Get(std::string_view key, std::time_t now);
  // ttl 0: the entry never expires. A live record keeps its hits and created.
  Result<void> Put(std::string_view key, std::string_view value, uint64_t ttl_seconds, std::time_t now);
  // False when the key was not there (or had expired).
  Result<bool> Delete(std::string_view key, std::time_t now);
  // Removes every entry expired at `now`; returns how many.
  Result<size_t> Sweep(std::time_t now);
  // Counts one hit on key, creating it (value_if_new, expiring ttl_if_new
  // seconds from now, 0: never) when missing or expired; one transaction.
  // Returns the record after the hit: hits == 1 means it was created.
  Result<Entry> Hit(std::string_view key, std::string_view value_if_new, uint64_t ttl_if_new, std::time_t now);
  // The live records whose key starts with prefix, in key order.
  Result<std::vector<std::pair<std::string, Entry>>> List(std::string_view prefix, std::time_t now);

 private:
  PolicyCache() = default;
  mdb::Env env_;
  MDB_dbi dbi_ = 0;
};

}  // namespace postern::stats
