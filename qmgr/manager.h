// qmgr/manager.h — the queue manager: scans the queue for due envelopes into
// a bounded active set, routes them, queues them per (transport, nexthop),
// hands delivery requests to transports within each destination's concurrency
// window, and records every recipient's result in the queue.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <string>
#include <vector>

#include "config/maincf.h"
#include "event/event.h"
#include "ipc/control.h"
#include "ipc/control_queue.h"
#include "ipc/bounce.h"
#include "ipc/agent.h"
#include "log/limited.h"
#include "qmgr/notify.h"
#include "qmgr/policy.h"
#include "qmgr/settings.h"
#include "queue/queue.h"
#include "route/route.h"
#include "server/server.h"

namespace postern::qmgr {

// Totals since start, for the log and the tests.
struct Stats {
  uint64_t sent = 0, deferred = 0, bounced = 0, expired = 0, requests = 0, crashes = 0;
};

class Manager {
 public:
  Manager(uv_loop_t* loop, config::Config cfg, Settings settings, route::Router router,
          std::unique_ptr<queue::Queue> q);
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
  // The control commands qmgr answers (control.cc, control_routes.cc).
  void RegisterControl();
  // pause/resume mta|mda from master's runtime state.
  void SetRuntime(const ipc::control::RuntimeState& s);
  // `set option`: adopts main.cf with the new overrides (options.cc); false,
  // with a warning, when something in it does not work (nothing changes then).
  bool Reconfigure(const config::Config& cfg);

 private:
  struct Entry {
    queue::EnvId id = 0;
    std::string address, orig;
    uint8_t notify = 0;
    uint32_t attempts = 0;
  };
  // A recipient to report in a notice (notify.cc); its envelope stays until then.
  struct Report {
    queue::EnvId id = 0;
    ipc::BounceRecipient rcpt;
  };
  struct Message {
    queue::MessageRecord rec;
    size_t in_core = 0;  // its envelopes in the active set
    bool expired_logged = false;
    bool active_logged = false;  // "(queue active)" said
    std::vector<Report> failed, succeeded, delayed;  // reported once in_core is 0
    bool notifying = false;                          // a bounce request is out
  };
  struct Transport {
    std::string name;
    TransportLimits limits;
    int64_t throttled_until = 0;  // unix time; 0 = not throttled
    std::string throttle_reason;
  };
  struct Dest {
    Transport* transport = nullptr;
    std::string nexthop;
    Window window;
    int busy = 0;
    std::deque<queue::MsgId> order;  // messages with work, oldest first
    std::map<queue::MsgId, std::vector<Entry>> todo;
    std::string dead_reason;
    std::unique_ptr<event::Timer> resume;
    explicit Dest(const WindowParams& p) : window(p) {}
  };
  struct Job {
    Dest* dest = nullptr;
    queue::MsgId msg = 0;
    std::vector<Entry> entries;
    std::set<queue::EnvId> answered;
    bool reached = false;      // some result shows the destination was reached
    std::string last_reason;   // of the last deferred result
    std::unique_ptr<ipc::AgentCall> call;
    int64_t started = 0;  // unix time it was handed to the transport
  };

  // Scanning (manager.cc).
  void MaybeDrained();  // after a retirement: lets go once nothing is in flight
  void ArmRunTimer();  // the queue_run_delay scan (options.cc)
  void Scan(int64_t until);
  void ScanPage();
  void ArmNextDue();
  static queue::EnvelopeUpdate Activation(const queue::Envelope& e, const Result<route::Route>& route);
  void Admit(const queue::Envelope& e, const Result<route::Route>& route, const queue::Status& activated);
  Message* LoadMessage(queue::MsgId id);
  Transport* GetTransport(const std::string& name);
  Dest* GetDest(const std::string& transport, const std::string& nexthop);
  bool Full() const;

  // Delivery (dispatch.cc).
  void Pump();
  void ScanSoon();
  void SchedulePump(uint64_t ms);
  bool StartJob(Dest* d);
  void OnResult(Job* job, const ipc::DeliveryResult& r);
  void OnJobEnd(Job* job, ipc::AgentCall::End how, const std::string& why);
  void Unavailable(Transport* t, const std::string& why);
  void KillDest(Dest* d, const std::string& why);

  // Recording results (results.cc).
  void Sent(queue::MsgId msg, const Entry& e, const ipc::DeliveryResult* r = nullptr,
            const std::string& transport = "");
  void Defer(queue::MsgId msg, const Entry& e, const std::string& dsn, const std::string& reason, bool log_it,
             const std::string& relay = "none");
  void Bounce(queue::MsgId msg, const Entry& e, const std::string& dsn, const std::string& reason,
              const std::string& relay = "none");
  void Expire(queue::MsgId msg, const Entry& e, const std::string& reason, const std::string& dsn = "4.4.7",
              const std::string& relay = "none");
  void Done(queue::MsgId msg);
  void DeferAll(Dest* d, const std::string& dsn, const std::string& reason);
  void LogStatus(queue::MsgId msg, const Entry& e, const std::string& relay, const std::string& dsn,
                 const std::string& status, const std::string& reason);
  int64_t ExpiryOf(const Message& m) const;

  // Notices through the bounce service (notify.cc).
  void NoteDelay(Message& m, const Entry& e, const std::string& dsn, const std::string& reason,
                 const std::string& relay);
  bool NoteSuccess(Message& m, const Entry& e, const ipc::DeliveryResult& r, const std::string& transport);
  bool Notify(queue::MsgId msg);  // false: nothing to report
  void OnNotified(queue::MsgId msg, ipc::NoticeKind kind, const std::vector<Report>& reports,
                  const ipc::BounceAnswer& a);
  void Forget(queue::MsgId msg);  // the message leaves core
  int64_t DelayWarning();
  bool PassesDsnOn(const std::string& transport);

  // Control commands (control.cc, control_routes.cc, control_bulk.cc).
  enum class BulkOp { kSchedule, kRemove, kHold, kRelease };
  bool IsLocalTransport(const std::string& name) const;
  bool Paused(const Transport* t) const;
  ipc::control::RunState RunStateOf(const queue::Envelope& e, int64_t now) const;
  bool Unqueue(queue::EnvId id);
  bool InFlight(queue::EnvId id) const;
  bool Waiting(queue::EnvId id) const;  // in core, waiting for its destination
  void ForEachEnvelope(const ipc::control::IdArg& a, const std::function<void(const queue::Envelope&)>& each);
  void ShowQueue(const ipc::control::Request& req, std::shared_ptr<ipc::control::Reply> reply);
  void ShowEnvelope(const ipc::control::Request& req, std::shared_ptr<ipc::control::Reply> reply);
  void ShowMessage(const ipc::control::Request& req, std::shared_ptr<ipc::control::Reply> reply);
  void Change(const ipc::control::Request& req, std::shared_ptr<ipc::control::Reply> reply, const char* done,
              const std::function<bool(const queue::Envelope&)>& action, std::optional<BulkOp> bulk = std::nullopt);
  bool HoldOne(const queue::Envelope& e);
  bool ScheduleOne(const queue::Envelope& e);
  bool RemoveOne(const queue::Envelope& e);
  bool DiscoverOne(const queue::Envelope& e);
  void UncorruptCmd(const ipc::control::Request& req, std::shared_ptr<ipc::control::Reply> reply);
  // "all": a job that works through the queue a page per loop turn (control_bulk.cc).
  struct BulkJob {
    BulkOp op = BulkOp::kSchedule;
    std::string done;  // "removed", ...
    std::shared_ptr<ipc::control::Reply> reply;
    queue::MsgId after = 0;  // the last message done
    size_t count = 0, batches = 0;
    event::Timer timer;
    explicit BulkJob(uv_loop_t* loop) : timer(loop) {}
  };
  void StartBulk(BulkOp op, const std::string& done, std::shared_ptr<ipc::control::Reply> reply);
  void BulkStep(BulkJob* j);
  void EndBulk(BulkJob* j);
  size_t BulkApply(BulkOp op, const std::vector<queue::Envelope>& envs);
  static const char* BulkVerb(BulkOp op);
  void ReviveDest(const queue::Envelope& e);
  std::vector<std::unique_ptr<BulkJob>> bulk_, finished_bulk_;
  void RegisterRouteControl();
  void NoteHostStat(const std::string& address, const ipc::DeliveryResult& r);
  struct HostStat {
    int64_t when = 0;
    std::string status;
  };
  std::map<std::string, HostStat> hoststats_;  // by recipient domain, last 4 hours
  bool pause_mta_ = false, pause_mda_ = false;

  uv_loop_t* loop_;
  config::Config cfg_;
  Settings s_;
  route::Router router_;
  std::unique_ptr<queue::Queue> q_;

  std::map<queue::MsgId, Message> messages_;
  size_t in_core_ = 0;  // envelopes in the active set
  std::map<std::string, std::unique_ptr<Transport>> transports_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<Dest>> dests_;
  std::map<Job*, std::unique_ptr<Job>> jobs_;
  std::vector<std::unique_ptr<Job>> finished_;  // freed on the next loop turn
  int busy_ = 0;

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
  event::Timer page_timer_, run_timer_, due_timer_, pump_timer_, reaper_, soon_timer_;
  // Queue changes that fail as a whole (storage.cc): a full disk gives one
  // warning per interval and a scanning pause, and what failed is retried
  // when the pause ends.
  static bool CommitFailed(const queue::Status& s);  // storage or i/o, not one envelope's
  void QueueFailure(const std::string& what, const queue::Status& s);
  void RetryUpdate(queue::EnvId id, const queue::EnvelopeUpdate& u, const queue::Status& s);
  void RetryRemoval(queue::EnvId id, const queue::Status& s);
  void QueueWorks();  // a commit succeeded
  void StartBackoff();
  void EndBackoff();
  log::LimitedWarning queue_warning_{std::chrono::seconds(10)};
  uint64_t backoff_ms_ = 0;  // 0: commits work
  bool backing_off_ = false;
  int64_t backoff_scan_until_ = 0;  // scans asked for meanwhile (flush: everything)
  event::Timer backoff_timer_;
  std::vector<std::pair<queue::EnvId, queue::EnvelopeUpdate>> retry_updates_;
  std::vector<queue::EnvId> retry_removals_;
  // Delivered envelopes are removed at the end of the loop turn, all in one
  // queue commit (one flush for every result that arrived together); each
  // one's Done() follows its removal, so "removed" is logged when it is true.
  void RemoveSoon(queue::EnvId id);
  void FlushRemovals();
  std::vector<queue::EnvId> removals_;
  event::Timer remove_timer_;
  Stats stats_;
  // notify.cc
  std::map<queue::MsgId, std::unique_ptr<BounceCall>> notices_;
  std::vector<std::unique_ptr<BounceCall>> finished_notices_;
  std::unique_ptr<event::Timer> notice_reaper_;
  int64_t delay_warning_ = -1;  // delay_warning_time, read on first use
  std::map<std::string, std::string> commands_;  // master.cf unix service -> command
  bool commands_loaded_ = false;
};

}  // namespace postern::qmgr
