// qmgr/manager.cc — the queue manager's life: start, wake-ups, pause/resume,
// retirement (what waits goes back to the queue, what is in flight is recorded
// first), and the few entry points of the control adapter.
#include "qmgr/manager.h"

#include <climits>
#include <ctime>

#include "postern/log/log.h"

namespace postern::qmgr {

Manager::Manager(uv_loop_t* loop, config::Config cfg, Settings settings, route::Router router, Store& store,
                 Calls& calls)
    : loop_(loop),
      cfg_(std::move(cfg)),
      s_(std::move(settings)),
      router_(std::move(router)),
      store_(store),
      calls_(calls),
      active_(s_.message_active_limit, s_.recipient_active_limit,
              [this](const std::string& t) { return LimitsFor(cfg_, t); }),
      recorder_(s_, stats_),
      notifier_(s_),
      drain_check_(loop),
      page_timer_(loop),
      run_timer_(loop),
      due_timer_(loop),
      pump_timer_(loop),
      reaper_(loop),
      soon_timer_(loop),
      revive_timer_(loop),
      backoff_timer_(loop),
      remove_timer_(loop) {}

Manager::~Manager() = default;

void Manager::Start() {
  store_.KeepReserve();
  ArmRunTimer();
  Scan(std::time(nullptr));
}

void Manager::Trigger(std::string_view request) {
  if (draining_) return;
  int64_t until = std::time(nullptr);
  for (char c : request) {
    // postern flush: give dead destinations and throttled transports another chance now.
    if (c == 'F') active_.ReviveAll();
    if (c == 'A') until = INT64_MAX;
  }
  Scan(until);
  Pump();
}

void Manager::Drain(server::Lease hold) {
  FlushRemovals();  // delivered mail must not be delivered again by the next qmgr
  draining_ = true;
  calls_.CloseIdle();  // the workers that hold them may retire
  drain_hold_ = std::move(hold);
  page_timer_.Stop();
  run_timer_.Stop();
  due_timer_.Stop();
  // What waits in memory goes back to the queue, due now, for the next qmgr,
  // in one commit (the active set may hold thousands: a reload while
  // delivery is paused); what is in flight stays active and is recovered as
  // a dead qmgr's.
  queue::EnvelopeUpdate due;
  due.state = queue::State::kDeferred;
  due.next_attempt = std::time(nullptr);
  std::vector<Store::Change> back;
  for (const auto& [msg, e] : active_.TakeAllWaiting()) back.emplace_back(e.id, due);
  (void)store_.UpdateMany(back);
  log::Info("stopping: sent={} deferred={} bounced={} expired={} requests={} crashes={}, {} deliveries in flight",
            stats_.sent, stats_.deferred, stats_.bounced, stats_.expired, stats_.requests, stats_.crashes,
            active_.jobs().size());
  MaybeDrained();
}

// Checked on the next loop turn, once a result's removals and notices are
// under way: the last result of a message may start a bounce request.
void Manager::MaybeDrained() {
  if (!draining_ || drain_check_.active()) return;
  drain_check_.Start(0, 0, [this] {
    if (!active_.jobs().empty() || !notices_.empty() || !removals_.empty()) return;
    log::Verbose("deliveries in flight at retirement recorded; exiting");
    drain_hold_.Release();
  });
}

bool Manager::Paused(const Transport& t) const {
  bool local = t.name == "local" || t.name == "virtual";
  if (!local) {
    std::string lt = cfg_.Str("local_transport");
    local = t.name == lt.substr(0, lt.find(':'));
  }
  return local ? pause_mda_ : pause_mta_;
}

void Manager::SetRuntime(const ipc::control::RuntimeState& s) {
  bool resumed = (pause_mta_ && !s.pause_mta) || (pause_mda_ && !s.pause_mda);
  if (s.pause_mta != pause_mta_) log::Info("remote delivery (mta) {}", s.pause_mta ? "paused" : "resumed");
  if (s.pause_mda != pause_mda_) log::Info("local delivery (mda) {}", s.pause_mda ? "paused" : "resumed");
  pause_mta_ = s.pause_mta;
  pause_mda_ = s.pause_mda;
  if (resumed) SchedulePump(0);
}

void Manager::Kick() {
  Scan(std::time(nullptr));
  Pump();
}

void Manager::ScanNow() { Scan(std::time(nullptr)); }

bool Manager::Unqueue(queue::EnvId id) {
  if (!active_.Unqueue(id)) return false;
  Done(queue::MsgOf(id));
  return true;
}

void Manager::NoteGone(const std::vector<queue::MsgId>& gone) {
  for (queue::MsgId msg : gone) {
    if (Message* m = active_.Find(msg)) {
      m->gone = true;  // logged as it leaves core (Forget)
    } else {
      log::Info("{}: removed", queue::FormatMsgId(msg));
    }
  }
}

// The operator wants it tried now: a destination resting after failures
// gets its chance too, as with `postern flush`.
void Manager::ReviveDest(const std::string& transport, const std::string& nexthop) {
  if (Dest* d = active_.FindDest(transport, nexthop); d && d->window.dead()) active_.Revive(*d);
}

}  // namespace postern::qmgr
