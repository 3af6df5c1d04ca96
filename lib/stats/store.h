// stats/store.h — the statistics database (smtpf's stats idea): counters
// summed per hour, per hour and destination route, and in total, in one LMDB
// file ($stats_database). Processes add batches of deltas (Recorder, one
// write transaction per batch); hours older than 31 days are pruned.
#pragma once

#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "postern/stats/db.h"
#include "postern/util/result.h"

namespace postern::stats {

// Deltas collected in memory until the next flush.
struct Batch {
  std::map<std::string, uint64_t, std::less<>> counters;                      // "smtp.session" → n
  std::map<std::pair<std::string, std::string>, uint64_t> routes;  // (route, name) → n
  bool empty() const { return counters.empty() && routes.empty(); }
  void clear() {
    counters.clear();
    routes.clear();
  }
};

// One stored value: hour is hours since the epoch (UTC); route is "" in the
// hourly view.
struct Sample {
  uint32_t hour = 0;
  std::string route;
  std::string name;
  uint64_t value = 0;
  bool operator==(const Sample&) const = default;
};

class Store {
 public:
  static constexpr uint32_t kRetentionHours = 31 * 24;
  static constexpr size_t kMaxKey = 400;  // route + name; LMDB's key limit is 511

  static Result<std::unique_ptr<Store>> Open(const std::string& path);

  // Adds every delta in one transaction, in the hour of `now`; prunes
  // expired hours at most once an hour of this object's life.
  Result<void> Add(const Batch& b, std::time_t now);
  Result<std::map<std::string, uint64_t>> Totals();
  // Samples of hours >= since_hour, in (hour, route, name) order.
  Result<std::vector<Sample>> Hourly(uint32_t since_hour);
  Result<std::vector<Sample>> Routes(uint32_t since_hour);
  // Removes hours before now - kRetentionHours; returns entries removed.
  Result<size_t> Prune(std::time_t now);

  static uint32_t HourOf(std::time_t t) { return uint32_t(t / 3600); }

 private:
  Store() = default;
  Result<std::vector<Sample>> Scan(MDB_dbi dbi, uint32_t since_hour, bool with_route);

  mdb::Env env_;
  MDB_dbi hourly_ = 0, routes_ = 0, totals_ = 0;
  uint32_t pruned_hour_ = 0;
};

}  // namespace postern::stats
