// stats/recorder.cc — see recorder.h. The recorder lives until the process
// exits (workers end with exit()), so its timer never outlives the loop's use.
#include "postern/stats/recorder.h"

#include <cstdlib>
#include <ctime>
#include <memory>

#include "postern/event/event.h"
#include "postern/log/log.h"
#include "postern/stats/keys.h"
#include "postern/stats/store.h"

namespace postern::stats {

namespace {

// A batch that cannot be written (database unreadable) stops growing here.
constexpr size_t kMaxPendingKeys = 10000;

struct Recorder {
  Recorder(uv_loop_t* loop, std::string p) : path(std::move(p)) {
    uv_timer_init(loop, timer.get());
    // Pending counters alone never keep a process alive; exit flushes them.
    uv_unref(timer.base());
  }
  event::Handle<uv_timer_t> timer;
  std::string path;
  std::unique_ptr<Store> store;
  Batch pending;
  std::map<std::string, uint64_t, std::less<>> process_totals;
  bool warned = false;

  void Flush() {
    if (pending.empty()) return;
    if (!store) {
      auto s = Store::Open(path);
      if (!s) return Warn(s.error());
      store = std::move(*s);
    }
    if (auto r = store->Add(pending, std::time(nullptr)); !r) return Warn(r.error());
    pending.clear();
    warned = false;
  }
  void Warn(const std::string& why) {
    if (!warned) log::Warning("statistics database {}: {}", path, why);
    warned = true;
    if (pending.counters.size() + pending.routes.size() > kMaxPendingKeys) pending.clear();
  }
};

Recorder* g_recorder = nullptr;

void FlushAtExit() {
  if (g_recorder) g_recorder->Flush();
}

}  // namespace

void StartRecorder(uv_loop_t* loop, const config::Config& cfg) {
  if (g_recorder) return;
  auto path = cfg.Get("stats_database");
  if (!path || path->empty()) return;
  auto interval = cfg.GetTime("stats_flush_interval");
  uint64_t ms = interval ? uint64_t(interval->count()) * 1000 : 1000;
  if (ms == 0) ms = 1000;
  g_recorder = new Recorder(loop, *path);  // deliberately never freed: see above
  uv_timer_start(g_recorder->timer.get(), [](uv_timer_t*) { g_recorder->Flush(); }, ms, ms);
  std::atexit(FlushAtExit);
}

void Count(std::string_view name, uint64_t n) {
  if (!g_recorder) return;
  auto it = g_recorder->pending.counters.find(name);
  if (it == g_recorder->pending.counters.end()) g_recorder->pending.counters.emplace(std::string(name), n);
  else it->second += n;
  auto pt = g_recorder->process_totals.find(name);
  if (pt == g_recorder->process_totals.end()) g_recorder->process_totals.emplace(std::string(name), n);
  else pt->second += n;
}

void CountRoute(std::string_view route, std::string_view name, uint64_t n) {
  if (!g_recorder) return;
  g_recorder->pending.routes[{std::string(route), std::string(name)}] += n;
}

void CountDelivery(std::string_view route, std::string_view outcome, double delay_seconds) {
  std::string name = "scheduler.delivery." + std::string(outcome);
  Count(name);
  CountRoute(route, name);
  Count(DeliveryKey(outcome, route.substr(0, route.find(':'))));
  if (outcome != "ok" || delay_seconds < 0) return;
  for (double bound : DelayBuckets())
    if (delay_seconds <= bound) Count(DelayBucketKey(bound));
  Count(kDelayCountKey);
  Count(kDelaySumMsKey, uint64_t(delay_seconds * 1000 + 0.5));
}

void FlushRecorder() {
  if (g_recorder) g_recorder->Flush();
}

const std::map<std::string, uint64_t, std::less<>>& ProcessCounters() {
  static const std::map<std::string, uint64_t, std::less<>> none;
  return g_recorder ? g_recorder->process_totals : none;
}

}  // namespace postern::stats
