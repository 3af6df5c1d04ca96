// qmgr/options.cc — `postern set option` in the queue manager: the skeleton
// hands over main.cf with the new overrides, and qmgr adopts its own
// parameters at once (timing, active-set bounds, routing, per-transport
// concurrency and recipient limits); restart-only ones never get here.
#include <algorithm>
#include <ctime>

#include "log/log.h"
#include "qmgr/manager.h"

namespace postern::qmgr {

void Manager::ArmRunTimer() {
  uint64_t every = static_cast<uint64_t>(std::max<int64_t>(1, s_.queue_run_delay)) * 1000;
  run_timer_.Start(every, every, [this] {
    // Deliveries of a qmgr that died while another one ran are found here,
    // when the queue holds active envelopes that are not in this qmgr's
    // core: the check reads /proc for every active envelope's owner, which
    // with a full active set (20,000) cost more CPU than the deliveries.
    if (q_->GetCounters().active > in_core_)
      if (int n = q_->ResetDeadInflight(); n > 0) log::Info("{} envelopes of a dead queue manager made due", n);
    q_->CheckReaders();
    q_->KeepReserve();  // given up on a full disk: back once there is room
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
  for (const auto& [name, t] : transports_) {
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
  delay_warning_ = -1;  // read again on its next use
  for (auto& [name, t] : transports_) t->limits = limits[name];
  for (auto& [key, d] : dests_) d->window.SetParams(d->transport->limits.window);
  if (new_run_delay && run_timer_.active()) ArmRunTimer();
  // Larger bounds or windows may let more work in now.
  ScanSoon();
  SchedulePump(0);
  return true;
}

}  // namespace postern::qmgr
