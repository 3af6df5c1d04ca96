// stats/stats_test.cc — the statistics store (sums per hour, route and total,
// pruning after 31 days) and the policy cache (expiry, delete, sweep).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "postern/stats/cache.h"
#include "postern/stats/store.h"

namespace postern::stats {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/stats_test.XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(const char* name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

constexpr std::time_t kNow = 1'700'000'000;  // some hour in 2023
constexpr uint32_t kHour = kNow / 3600;

TEST(StatsStore, BatchesAddUpPerHourRouteAndTotal) {
  TempDir dir;
  auto store = Store::Open(dir.File("stats.lmdb"));
  ASSERT_TRUE(store) << store.error();
  Batch b;
  b.counters["smtp.session"] = 2;
  b.counters["delivery.ok"] = 1;
  b.routes[{"smtp:[127.0.0.1]", "delivery.ok"}] = 1;
  ASSERT_TRUE((*store)->Add(b, kNow));
  ASSERT_TRUE((*store)->Add(b, kNow + 10));     // same hour: summed
  ASSERT_TRUE((*store)->Add(b, kNow + 3600));   // next hour: its own row

  auto totals = (*store)->Totals();
  ASSERT_TRUE(totals);
  EXPECT_EQ((*totals)["smtp.session"], 6u);
  EXPECT_EQ((*totals)["delivery.ok"], 3u);

  auto hourly = (*store)->Hourly(0);
  ASSERT_TRUE(hourly);
  std::vector<Sample> want = {
      {kHour, "", "delivery.ok", 2},     {kHour, "", "smtp.session", 4},
      {kHour + 1, "", "delivery.ok", 1}, {kHour + 1, "", "smtp.session", 2},
  };
  EXPECT_EQ(*hourly, want);
  auto since = (*store)->Hourly(kHour + 1);
  ASSERT_TRUE(since);
  EXPECT_EQ(since->size(), 2u);

  auto routes = (*store)->Routes(0);
  ASSERT_TRUE(routes);
  ASSERT_EQ(routes->size(), 2u);
  EXPECT_EQ((*routes)[0], (Sample{kHour, "smtp:[127.0.0.1]", "delivery.ok", 2}));
}

TEST(StatsStore, HoursOlderThan31DaysArePruned) {
  TempDir dir;
  auto store = Store::Open(dir.File("stats.lmdb"));
  ASSERT_TRUE(store);
  Batch b;
  b.counters["smtp.session"] = 1;
  b.routes[{"r", "delivery.ok"}] = 1;
  ASSERT_TRUE((*store)->Add(b, kNow));
  ASSERT_TRUE((*store)->Add(b, kNow + 24 * 3600));
  // 31 days after the first hour it is still there; one hour later it is gone.
  auto kept = (*store)->Prune(kNow + std::time_t(Store::kRetentionHours) * 3600);
  ASSERT_TRUE(kept);
  EXPECT_EQ(*kept, 0u);
  auto removed = (*store)->Prune(kNow + std::time_t(Store::kRetentionHours + 1) * 3600);
  ASSERT_TRUE(removed);
  EXPECT_EQ(*removed, 2u);  // one hourly row, one route row
  auto hourly = (*store)->Hourly(0);
  ASSERT_TRUE(hourly);
  ASSERT_EQ(hourly->size(), 1u);
  EXPECT_EQ((*hourly)[0].hour, kHour + 24);
  auto totals = (*store)->Totals();
  EXPECT_EQ((*totals)["smtp.session"], 2u);  // totals are not per hour
}

TEST(StatsStore, OversizedNamesAreSkipped) {
  TempDir dir;
  auto store = Store::Open(dir.File("stats.lmdb"));
  ASSERT_TRUE(store);
  Batch b;
  b.counters[std::string(Store::kMaxKey + 1, 'x')] = 1;
  b.counters["ok"] = 1;
  ASSERT_TRUE((*store)->Add(b, kNow));
  EXPECT_EQ((*store)->Totals()->size(), 1u);
}

TEST(PolicyCache, EntriesExpire) {
  TempDir dir;
  auto cache = PolicyCache::Open(dir.File("cache.lmdb"));
  ASSERT_TRUE(cache) << cache.error();
  auto& c = **cache;
  struct Case {
    const char* key;
    const char* value;
    uint64_t ttl;
    std::time_t read_at;
    bool found;
  };
  const Case cases[] = {
      {"never", "v1", 0, kNow + 100000000, true},
      {"short", "v2", 60, kNow + 59, true},
      {"gone", "v3", 60, kNow + 60, false},
      {"empty-value", "", 10, kNow, true},
  };
  for (const auto& t : cases) {
    ASSERT_TRUE(c.Put(t.key, t.value, t.ttl, kNow));
    auto got = c.Get(t.key, t.read_at);
    ASSERT_TRUE(got) << got.error();
    EXPECT_EQ(got->has_value(), t.found) << t.key;
    if (t.found) {
      EXPECT_EQ((*got)->value, t.value);
    }
  }
  auto swept = c.Sweep(kNow + 61);
  ASSERT_TRUE(swept);
  EXPECT_EQ(*swept, 3u);  // "short", "gone" and "empty-value"
  EXPECT_TRUE(c.Get("never", kNow)->has_value());
}

TEST(PolicyCache, PutReplacesAndDeleteRemoves) {
  TempDir dir;
  auto cache = PolicyCache::Open(dir.File("cache.lmdb"));
  ASSERT_TRUE(cache);
  auto& c = **cache;
  ASSERT_TRUE(c.Put("k", "one", 0, kNow));
  ASSERT_TRUE(c.Put("k", "two", 100, kNow));
  auto got = c.Get("k", kNow);
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->value, "two");
  EXPECT_EQ((*got)->expires, kNow + 100);
  EXPECT_TRUE(*c.Delete("k", kNow));
  EXPECT_FALSE(*c.Delete("k", kNow));
  EXPECT_FALSE(c.Get("k", kNow)->has_value());
  EXPECT_FALSE(c.Put("", "v", 0, kNow));
  EXPECT_FALSE(c.Put(std::string(PolicyCache::kMaxKey + 1, 'k'), "v", 0, kNow));
}

}  // namespace
}  // namespace postern::stats
