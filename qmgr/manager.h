// qmgr/manager.h — the queue manager's I/O layer: scans the queue for due envelopes
// into the active set (active.h), hands the jobs it makes to transports (io.h), applies
// the recorder's queue changes (recorder.h) and the notifier's notices (notifier.h),
// and keeps the timers. The control adapter (control.h) talks to it and the active set.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "postern/config/maincf.h"
#include "postern/event/event.h"
#include "postern/ipc/control.h"
#include "postern/log/limited.h"
#include "postern/route/route.h"
#include "postern/server/server.h"
#include "qmgr/active.h"
#include "qmgr/io.h"
#include "qmgr/notifier.h"
#include "qmgr/recorder.h"
#include "qmgr/settings.h"

namespace postern::qmgr {

class Manager {
 public:
  Manager(uv_loop_t* loop, config::Config cfg, Settings settings, route::Router router, Store& store, Calls& calls);
  ~Manager();
  Manager(const Manager&) = delete;

  // Starts the periodic scan and scans once.
  void Start();
  // A wakeup request: 'I'/'W'/'D' scan for due mail, 'A' everything now,
  // 'F' forget dead destinations and throttled transports first.
  void Trigger(std::string_view request);
  // Retired by master: hand back what is not in flight, stop scanning, and
  // record the results of what is; `hold` keeps the process until then (a
  // delivery whose result nobody records would be made again by the next qmgr).
  void Drain(server::Lease hold);
  // Says whether master has retired this process (checked before a scan page
  // is activated: after the hand-over only the new qmgr activates).
  void SetRetiredCheck(std::function<bool()> retired) { retired_ = std::move(retired); }
  const Stats& stats() const { return stats_; }
  // pause/resume mta|mda from master's runtime state.
  void SetRuntime(const ipc::control::RuntimeState& s);
  // `set option`: adopts main.cf with the new overrides (options.cc); false,
  // with a warning, when something in it does not work (nothing changes then).
  bool Reconfigure(const config::Config& cfg);

  // --- for the control adapter
  ActiveSet& active() { return active_; }
  const config::Config& config() const { return cfg_; }
  bool draining() const { return draining_; }
  bool Paused(const Transport& t) const;
  int64_t ExpiryOf(const queue::MessageRecord& m) const { return s_.lifetimes.ExpiryOf(m); }
  void Kick();  // scan what is due and dispatch: the operator changed something
  void ScanNow();
  void SchedulePump(uint64_t ms);
  // Takes a waiting envelope out of core (false: it is not waiting here).
  bool Unqueue(queue::EnvId id);
  // Messages whose last envelope went (RemoveMany's `gone`): "removed" is logged
  // now, or as the message leaves core.
  void NoteGone(const std::vector<queue::MsgId>& gone);
  void ReviveDest(const std::string& transport, const std::string& nexthop);
  // Sees every recipient's result (per-host statistics).
  void SetResultObserver(std::function<void(const Entry&, const ipc::DeliveryResult&)> fn) {
    observer_ = std::move(fn);
  }
  // Sees the connection facts of each delivery and its end (show hosts|routes|relays).
  struct ConnectionWatcher {
    std::function<void(const Job&, const ipc::ConnectionFact&)> on_connection;
    std::function<void(const Job&)> on_job_end;
  };
  void SetConnectionWatcher(ConnectionWatcher w) { watcher_ = std::move(w); }

 private:
  // Scanning (scan.cc).
  void MaybeDrained();  // after a retirement: lets go once nothing is in flight
  void ArmRunTimer();   // the queue_run_delay scan (options.cc)
  void Scan(int64_t until);
  void ScanPage();
  void EndScan();
  void ArmNextDue();
  void ScanSoon();
  void Admit(const queue::Envelope& e, const Result<route::Route>& route, const queue::Status& activated);
  Message* LoadMessage(queue::MsgId id);

  // Delivery (dispatch.cc).
  void Pump();
  bool StartJob(Job& job);
  void OnResult(Job* job, const ipc::DeliveryResult& r);
  void OnJobEnd(Job* job, ipc::Call::End how, const std::string& why);
  void Unavailable(Transport& t, const std::string& why);
  void KillDest(Dest& d, const std::string& why);
  void ArmRevival(int64_t at);
  void ReapSoon();  // finished calls and jobs are freed on the next loop turn

  // Recording results (results.cc): the recorder's changes applied.
  void Record(queue::MsgId msg, const Entry& e, const Outcome& o);
  void Defer(queue::MsgId msg, const Entry& e, const std::string& dsn, const std::string& reason);
  void DeferAll(std::vector<Waiting> waiting, const std::string& dsn, const std::string& reason);
  void Done(queue::MsgId msg);
  void Settle(queue::MsgId msg);  // the message leaves core once its notices and removals are done
  void Forget(queue::MsgId msg);
  // The one removal path: delivered (`delivered`: counted in core until then)
  // and reported envelopes, at the end of the loop turn, one queue commit.
  void RemoveSoon(queue::EnvId id, bool delivered);
  void FlushRemovals();

  // Notices through the bounce service (notify.cc).
  bool Notify(queue::MsgId msg);  // false: nothing to report
  void OnNotified(const Notice& n, const ipc::BounceAnswer& a);

  // Queue changes that fail as a whole (storage.cc): a full disk gives one
  // warning per interval and a scanning pause, and what failed is retried
  // when the pause ends.
  static bool CommitFailed(const queue::Status& s);  // storage or i/o, not one envelope's
  void QueueFailure(const std::string& what, const queue::Status& s);
  void Update(queue::EnvId id, const queue::EnvelopeUpdate& u);
  void RetryUpdate(queue::EnvId id, const queue::EnvelopeUpdate& u, const queue::Status& s);
  void RetryRemoval(queue::EnvId id, const queue::Status& s);
  void QueueWorks();  // a commit succeeded
  void StartBackoff();
  void EndBackoff();

  uv_loop_t* loop_;
  config::Config cfg_;
  Settings s_;
  route::Router router_;
  Store& store_;
  Calls& calls_;
  Stats stats_;
  ActiveSet active_;
  Recorder recorder_;
  Notifier notifier_;
  bool pause_mta_ = false, pause_mda_ = false;
  std::function<void(const Entry&, const ipc::DeliveryResult&)> observer_;
  ConnectionWatcher watcher_;

  std::map<Job*, std::unique_ptr<Calls::Pending>> deliveries_;
  std::vector<std::unique_ptr<Calls::Pending>> finished_calls_;  // freed on the next loop turn
  std::vector<std::unique_ptr<Job>> finished_jobs_;
  std::map<queue::MsgId, std::unique_ptr<Calls::Pending>> notices_;

  bool pumping_ = false, repump_ = false;
  bool scanning_ = false, rescan_ = false, full_ = false, draining_ = false;
  std::function<bool()> retired_;
  server::Lease drain_hold_;
  event::Timer drain_check_;
  int64_t scan_until_ = 0, rescan_until_ = 0;
  queue::ScheduleCursor cursor_;
  // Envelopes this scan already took: one deferred again during an "A" scan
  // (no time limit) moves ahead of the cursor and must not come round again.
  std::set<queue::EnvId> seen_;
  event::Timer page_timer_, run_timer_, due_timer_, pump_timer_, reaper_, soon_timer_, revive_timer_;
  int64_t revive_at_ = 0;  // what revive_timer_ is armed for (uv_now ms)

  log::LimitedWarning queue_warning_{std::chrono::seconds(10)};
  uint64_t backoff_ms_ = 0;  // 0: commits work
  bool backing_off_ = false;
  int64_t backoff_scan_until_ = 0;  // scans asked for meanwhile (flush: everything)
  event::Timer backoff_timer_;
  std::vector<Store::Change> retry_updates_;
  std::vector<queue::EnvId> retry_removals_;
  std::vector<std::pair<queue::EnvId, bool>> removals_;  // (id, delivered)
  event::Timer remove_timer_;
};

}  // namespace postern::qmgr
