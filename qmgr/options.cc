// qmgr/options.cc — `postern set option` in the queue manager: the skeleton
// hands over main.cf with the new overrides, and qmgr adopts its own
// parameters at once (timing, active-set bounds, routing, per-transport
// concurrency and recipient limits); restart-only ones never get here.
#include <algorithm>
#include <ctime>

#include "postern/log/log.h"
#include "qmgr/manager.h"

namespace postern::qmgr {

void Manager::ArmRunTimer() {
  uint64_t every = static_cast<uint64_t>(std::max<int64_t>(1, s_.queue_run_delay)) * 1000;
  run_timer_.Start(every, every, [this] {
    store_.Housekeep(active_.in_core());
    log::Verbose("stats: sent={} deferred={} bounced={} expired={} requests={} crashes={}", stats_.sent,
                 stats_.deferred, stats_.bounced, stats_.expired, stats_.requests, stats_.crashes);
    Scan(std::time(nullptr));
  });
}

bool Manager::Reconfigure(const config::Config& cfg) {
  auto settings = Settings::FromConfig(cfg);
  if (!settings) {
    log::Warning("set option: {}; keeping the previous settings", settings.error());
    return false;
  }
  auto router = route::Router::FromConfig(cfg);
  if (!router) {
    log::Warning("set option: {}; keeping the previous settings", router.error());
    return false;
  }
  // Per-transport limits of the transports in use, checked before anything changes.
  std::map<std::string, TransportLimits> limits;
  for (const auto& [name, t] : active_.transports()) {
    auto l = LimitsFor(cfg, name);
    if (!l) {
      log::Warning("set option: transport {}: {}; keeping the previous settings", name, l.error());
      return false;
    }
    limits[name] = *l;
  }
  settings->queue_directory = s_.queue_directory;  // restart-only: master refuses it
  bool new_run_delay = settings->queue_run_delay != s_.queue_run_delay;
  cfg_ = cfg;
  s_ = std::move(*settings);
  router_ = std::move(*router);
  active_.SetBounds(s_.message_active_limit, s_.recipient_active_limit);
  for (auto& [name, t] : active_.transports()) t->limits = limits[name];
  for (auto& [key, d] : active_.dests()) d->window.SetParams(d->transport->limits.window);
  if (new_run_delay && run_timer_.active()) ArmRunTimer();
  // Larger bounds or windows may let more work in now.
  ScanSoon();
  SchedulePump(0);
  return true;
}

}  // namespace postern::qmgr
