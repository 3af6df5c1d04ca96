// qmgr/control.h — the control adapter: the `postern` commands qmgr answers (master
// relays them; ipc/control.h) — show queue/envelope/message/routes/hosts/relays/
// hoststats, schedule, remove, pause/resume envelope and route, discover, uncorrupt.
// It keeps the host/route/relay tables (mta_view.h), fed with the transports' connection facts.
// Changes go through the queue and the manager's core together, so that nothing
// qmgr holds is delivered after it was held or removed.
#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "postern/event/event.h"
#include "postern/ipc/control.h"
#include "postern/ipc/control_queue.h"
#include "postern/queue/queue.h"
#include "qmgr/manager.h"
#include "qmgr/mta_view.h"

namespace postern::qmgr {

class Control {
 public:
  Control(uv_loop_t* loop, Manager& mgr, queue::Queue& q);
  Control(const Control&) = delete;
  // Adds the commands to the process's control table.
  void Register();

 private:
  enum class BulkOp { kSchedule, kRemove, kHold, kRelease };
  using ReplyPtr = std::shared_ptr<ipc::control::Reply>;

  // control.cc
  ipc::control::RunState RunStateOf(const queue::Envelope& e, int64_t now) const;
  queue::Envelope Listed(const queue::MessageRecord& m, queue::Envelope e) const;  // expiry as qmgr decides it
  bool InFlight(queue::EnvId id) const { return mgr_.active().JobOf(id) != nullptr; }
  bool Waiting(queue::EnvId id) const { return mgr_.active().IsWaiting(id); }
  void ForEachEnvelope(const ipc::control::IdArg& a, const std::function<void(const queue::Envelope&)>& each);
  void ShowQueue(const ipc::control::Request& req, ReplyPtr reply);
  void ShowEnvelope(const ipc::control::Request& req, ReplyPtr reply);
  void ShowMessage(const ipc::control::Request& req, ReplyPtr reply);
  void Change(const ipc::control::Request& req, ReplyPtr reply, const char* done,
              const std::function<bool(const queue::Envelope&)>& action, std::optional<BulkOp> bulk = std::nullopt);
  bool HoldOne(const queue::Envelope& e);
  bool ScheduleOne(const queue::Envelope& e);
  bool RemoveOne(const queue::Envelope& e);
  bool DiscoverOne(const queue::Envelope& e);
  void LogRemoved(queue::MsgId msg, const std::string& recipient);
  void UncorruptCmd(const ipc::control::Request& req, ReplyPtr reply);

  // "all": a job that works through the queue a page per loop turn (control_bulk.cc).
  struct BulkJob {
    BulkOp op = BulkOp::kSchedule;
    std::string done;  // "removed", ...
    ReplyPtr reply;
    queue::MsgId after = 0;  // the last message done
    size_t count = 0, batches = 0;
    event::Timer timer;
    explicit BulkJob(uv_loop_t* loop) : timer(loop) {}
  };
  void StartBulk(BulkOp op, const std::string& done, ReplyPtr reply);
  void BulkStep(BulkJob* j);
  void EndBulk(BulkJob* j);
  size_t BulkApply(BulkOp op, const std::vector<queue::Envelope>& envs);
  size_t BulkRemove(const std::vector<const queue::Envelope*>& targets);
  static const char* BulkVerb(BulkOp op);

  // control_routes.cc
  void RegisterRoutes();
  void NoteHostStat(const std::string& address, const ipc::DeliveryResult& r);
  std::string StateOf(const Dest& d, int64_t now) const;
  struct HostStat {
    int64_t when = 0;
    std::string status;
  };
  // No argument, or --json: false/true; nullopt after answering a usage error.
  static std::optional<bool> JsonArg(const ipc::control::Request& req, ipc::control::Reply& reply);
  void DestLines(bool json, ReplyPtr reply);
  bool ResumeDest(uint64_t id);

  // control_views.cc: smtpctl's show hosts|relays, and the connection routes of show routes.
  struct DestView {
    bool known = false, dead = false, failing = false;
    int64_t revive_in = 0;  // seconds, when dead
    std::string state;      // StateOf, or "idle" when qmgr holds no queue for it
  };
  DestView ViewOf(const DestRef& d);
  void RegisterViews();
  void RouteLines(bool json, ReplyPtr reply);
  bool ResumeConnectionRoute(uint64_t id);
  void ShowHosts(bool json, ReplyPtr reply);
  void ShowRelays(bool json, ReplyPtr reply);

  uv_loop_t* loop_;
  Manager& mgr_;
  queue::Queue& q_;
  std::vector<std::unique_ptr<BulkJob>> bulk_, finished_bulk_;
  std::map<std::string, HostStat> hoststats_;  // by recipient domain, last 4 hours
  MtaView mta_;
};

}  // namespace postern::qmgr
