// qmgr/dispatch.cc — handing the active set's jobs to transports and feeding their
// outcome back: results to the recorder, the end of a request to the window; a dead
// destination or an unusable transport has its recipients deferred.
#include <algorithm>
#include <chrono>
#include <ctime>

#include "postern/log/log.h"
#include "postern/stats/recorder.h"
#include "postern/util/fd_limit.h"
#include "qmgr/manager.h"

namespace postern::qmgr {

namespace {

// Connections to transports at once, whatever the windows say: each is a
// descriptor here and a worker under master. Leaves room below the fd limit.
int MaxInflight() {
  static const int limit = [] {
    size_t budget = DescriptorBudget(64, false);
    return budget == 0 ? 1000 : static_cast<int>(std::min<size_t>(budget, 1000));
  }();
  return limit;
}
// How soon to retry when a transport's listen backlog was full.
constexpr uint64_t kBusyRetryMs = 100;

const char* StatusName(ipc::DeliveryStatus s) {
  switch (s) {
    case ipc::DeliveryStatus::kSent: return "sent";
    case ipc::DeliveryStatus::kBounced: return "bounced";
    case ipc::DeliveryStatus::kDeferred: break;
  }
  return "deferred";
}

}  // namespace

void Manager::SchedulePump(uint64_t ms) {
  if (!pump_timer_.active()) pump_timer_.Start(ms, 0, [this] { Pump(); });
}

void Manager::Pump() {
  if (draining_) return;
  // Results recorded while pumping may pump again; one pass at a time.
  if (pumping_) {
    repump_ = true;
    return;
  }
  pumping_ = true;
  do {
    repump_ = false;
    active_.Dispatch(
        std::time(nullptr), MaxInflight(), [this](const Transport& t) { return Paused(t); },
        [this](Job& job) { return StartJob(job); });
  } while (repump_);
  pumping_ = false;
}

bool Manager::StartJob(Job& job) {
  Dest* d = job.dest;
  Transport* t = d->transport;
  const Message& m = *active_.Find(job.msg);
  ipc::DeliveryRequest req;
  req.message_id = job.msg;
  req.transport = t->name;
  req.nexthop = d->nexthop;
  req.sender = m.rec.sender;
  req.dsn_envid = m.rec.dsn_envid;
  req.dsn_ret = static_cast<uint8_t>(m.rec.dsn_ret);
  req.flags = m.rec.flags;
  req.arrival = m.rec.arrival;
  for (const Entry& e : job.entries) req.recipients.push_back({e.id, e.address, e.orig, e.notify});
  ipc::Call::Failure failure;
  std::string why;
  Job* jp = &job;
  auto call = calls_.Deliver(
      req, [this, jp](const ipc::DeliveryResult& r) { OnResult(jp, r); },
      [this, jp](const ipc::ConnectionFact& c) {
        if (watcher_.on_connection) watcher_.on_connection(*jp, c);
      },
      [this, jp](ipc::Call::End how, const std::string& w) { OnJobEnd(jp, how, w); }, &failure, &why);
  if (!call && failure == ipc::Call::Failure::kBusy) {
    // Master starts workers as connections wait; put the work back and retry.
    active_.Return(job);
    SchedulePump(kBusyRetryMs);
    return false;
  }
  if (!call) {
    std::unique_ptr<Job> dropped = active_.Drop(job);
    for (const Entry& e : dropped->entries) Defer(dropped->msg, e, "4.3.0", "mail transport unavailable");
    Unavailable(*t, why);
    return false;
  }
  deliveries_[jp] = std::move(call);
  ++stats_.requests;
  log::Trace("scheduler", "{}: dispatch to {}:{}: {} recipient(s), {} of {} at this destination, {} in all",
             queue::FormatMsgId(job.msg), t->name, d->nexthop, req.recipients.size(), d->busy,
             d->window.concurrency(), active_.busy());
  return true;
}

void Manager::OnResult(Job* job, const ipc::DeliveryResult& r) {
  const std::string& transport = job->dest->transport->name;
  const Entry* e = active_.Answer(*job, r);
  if (!e) {
    log::Warning("transport {}: result for envelope {} that it was not given (or twice); ignored", transport,
                 queue::FormatEnvId(r.envelope_id));
    return;
  }
  log::Trace("scheduler", "{}: result for <{}> from {}:{}: {} {} ({})", queue::FormatMsgId(job->msg), e->address,
             transport, job->dest->nexthop, StatusName(r.status), r.dsn, r.reason);
  // The delay as the status line's delay= (arrival to now), for the metrics histogram.
  double delay = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count() -
                 double(active_.Find(job->msg)->rec.arrival);
  stats::CountDelivery(transport + ":" + job->dest->nexthop,
                       r.status == ipc::DeliveryStatus::kSent       ? "ok"
                       : r.status == ipc::DeliveryStatus::kBounced ? "permfail"
                                                                    : "tempfail",
                       delay);
  // smtpctl's loop counter: a delivery agent saw the message come back (5.4.6).
  if (r.status == ipc::DeliveryStatus::kBounced && r.dsn == "5.4.6") stats::Count("scheduler.delivery.loop");
  if (observer_) observer_(*e, r);
  Outcome o;
  o.status = r.status;
  o.dsn = r.dsn;
  o.reason = r.reason;
  o.relay = r.relay.empty() ? "none" : r.relay;
  if (r.status == ipc::DeliveryStatus::kSent) {
    o.relay = r.relay;
    o.relayed_without_dsn = r.relayed_without_dsn;
    const Message* m = active_.Find(job->msg);
    // master.cf is read only when a success notice may be owed.
    if ((e->notify & queue::kNotifySuccess) && m && !m->rec.sender.empty() && !r.relayed_without_dsn)
      o.dsn_passed_on = notifier_.PassesDsnOn(cfg_, transport);
  } else if (r.status == ipc::DeliveryStatus::kDeferred && o.dsn.empty()) {
    o.dsn = "4.0.0";
  }
  Record(job->msg, *e, o);
}

void Manager::OnJobEnd(Job* job, ipc::Call::End how, const std::string& why) {
  bool crashed = how == ipc::Call::End::kCrashed;
  Dest* d = job->dest;
  Transport* t = d->transport;
  JobEnd end = active_.Finish(*job, crashed);
  if (watcher_.on_job_end) watcher_.on_job_end(*end.job);
  if (crashed) {
    ++stats_.crashes;
    log::Warning("{}: transport {} failed on a delivery request: {}", queue::FormatMsgId(end.job->msg), t->name, why);
    // Not a verdict on the destination: the envelopes wait, the transport rests.
    for (const Entry& e : end.unanswered) Defer(end.job->msg, e, "4.3.0", "unknown mail transport error");
    Unavailable(*t, "unknown mail transport error");
  } else {
    for (const Entry& e : end.unanswered) Defer(end.job->msg, e, "4.3.0", "mail transport gave no result");
    if (end.dest_died)
      KillDest(*d, end.job->last_reason.empty() ? "destination not reachable" : end.job->last_reason);
  }
  // We are inside the call's callback: it and its job go on the next loop turn.
  if (auto c = deliveries_.find(job); c != deliveries_.end()) {
    finished_calls_.push_back(std::move(c->second));
    deliveries_.erase(c);
  }
  finished_jobs_.push_back(std::move(end.job));
  ReapSoon();
  Pump();
  MaybeDrained();
}

void Manager::ReapSoon() {
  if (!reaper_.active()) reaper_.Start(0, 0, [this] {
      finished_calls_.clear();
      finished_jobs_.clear();
    });
}

void Manager::Unavailable(Transport& t, const std::string& why) {
  int64_t now = std::time(nullptr);
  std::vector<Waiting> waiting;
  if (active_.Throttle(t, now, now + std::max<int64_t>(1, s_.transport_retry), why, &waiting))
    log::Warning("transport {} unavailable, throttled for {}s: {}", t.name, s_.transport_retry, why);
  DeferAll(std::move(waiting), "4.3.0", "mail transport unavailable");
}

void Manager::KillDest(Dest& d, const std::string& why) {
  int64_t at = static_cast<int64_t>(uv_now(loop_)) + std::max<int64_t>(1, s_.min_backoff) * 1000;
  std::vector<Waiting> waiting = active_.Kill(d, why, at);
  log::Info("{}:{}: destination dead after a failed cohort, retry in {}s: {}", d.transport->name, d.nexthop,
            s_.min_backoff, why);
  DeferAll(std::move(waiting), "4.4.1", "delivery temporarily suspended: " + why);
  ArmRevival(at);
}

// One timer for the earliest revival of a dead destination.
void Manager::ArmRevival(int64_t at) {
  if (revive_timer_.active() && revive_at_ <= at) return;
  revive_at_ = at;
  int64_t wait = std::max<int64_t>(0, at - static_cast<int64_t>(uv_now(loop_)));
  revive_timer_.Start(static_cast<uint64_t>(wait), 0, [this] {
    revive_at_ = 0;
    if (int64_t next = active_.ReviveDue(static_cast<int64_t>(uv_now(loop_)))) ArmRevival(next);
    SchedulePump(0);
  });
}

}  // namespace postern::qmgr
