// qmgr/dispatch.cc — handing delivery requests to transports within each
// destination's concurrency window, and the feedback their outcome gives:
// the window grows when a destination was reached, shrinks when not, a dead
// destination or an unusable transport has its recipients deferred.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <iterator>

#include "log/log.h"
#include "qmgr/manager.h"
#include "stats/recorder.h"

namespace postern::qmgr {

namespace {

// Connections to transports at once, whatever the windows say: each is a
// descriptor here and a worker under master. Leaves room below the fd limit.
int MaxInflight() {
  static const int limit = [] {
    struct rlimit rl {};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 1000;
    return static_cast<int>(std::clamp<rlim_t>(rl.rlim_cur > 64 ? rl.rlim_cur - 64 : 1, 1, 1000));
  }();
  return limit;
}
// How soon to retry when a transport's listen backlog was full.
constexpr uint64_t kBusyRetryMs = 100;

}  // namespace

void Manager::ScanSoon() {
  if (!soon_timer_.active()) soon_timer_.Start(0, 0, [this] { Scan(std::time(nullptr)); });
}

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
    int64_t now = std::time(nullptr);
    for (auto it = dests_.begin(); it != dests_.end();) {
      Dest* d = it->second.get();
      while (!d->order.empty() && !d->window.dead() && d->transport->throttled_until <= now && !Paused(d->transport) &&
             d->busy < d->window.concurrency() && busy_ < MaxInflight()) {
        if (!StartJob(d)) break;
      }
      // An idle, healthy destination is forgotten, as Postfix drops empty queues.
      if (d->order.empty() && d->busy == 0 && !d->window.dead()) {
        it = dests_.erase(it);
      } else {
        ++it;
      }
    }
  } while (repump_);
  pumping_ = false;
}

bool Manager::StartJob(Dest* d) {
  Transport* t = d->transport;
  queue::MsgId msg = d->order.front();
  auto& list = d->todo[msg];
  size_t limit = t->limits.recipient_limit > 0 ? static_cast<size_t>(t->limits.recipient_limit) : list.size();
  size_t n = std::min(limit, list.size());
  auto job = std::make_unique<Job>();
  job->dest = d;
  job->msg = msg;
  job->entries.assign(std::make_move_iterator(list.begin()), std::make_move_iterator(list.begin() + long(n)));
  list.erase(list.begin(), list.begin() + long(n));
  if (list.empty()) {
    d->todo.erase(msg);
    d->order.pop_front();
  }

  ipc::AgentCall::Failure failure;
  std::string why;
  auto call = ipc::AgentCall::Connect(loop_, s_.queue_directory + "/private/" + t->name, &failure, &why);
  if (!call) {
    if (failure == ipc::AgentCall::Failure::kBusy) {
      // Master starts workers as connections wait; put the work back and retry.
      auto& back = d->todo[msg];
      if (back.empty()) d->order.push_front(msg);
      back.insert(back.begin(), std::make_move_iterator(job->entries.begin()),
                  std::make_move_iterator(job->entries.end()));
      SchedulePump(kBusyRetryMs);
      return false;
    }
    for (const Entry& e : job->entries) Defer(msg, e, "4.3.0", "mail transport unavailable", true);
    Unavailable(t, why);
    return false;
  }
  const Message& m = messages_.at(msg);
  ipc::DeliveryRequest req;
  req.message_id = msg;
  req.transport = t->name;
  req.nexthop = d->nexthop;
  req.sender = m.rec.sender;
  req.dsn_envid = m.rec.dsn_envid;
  req.dsn_ret = static_cast<uint8_t>(m.rec.dsn_ret);
  req.flags = m.rec.flags;
  req.arrival = m.rec.arrival;
  for (const Entry& e : job->entries) req.recipients.push_back({e.id, e.address, e.orig, e.notify});
  Job* jp = job.get();
  jp->call = std::move(call);
  jp->started = std::time(nullptr);
  jobs_[jp] = std::move(job);
  ++d->busy;
  ++busy_;
  ++stats_.requests;
  log::Trace("scheduler", "{}: dispatch to {}:{}: {} recipient(s), {} of {} at this destination, {} in all",
             queue::FormatMsgId(msg), t->name, d->nexthop, req.recipients.size(), d->busy, d->window.concurrency(),
             busy_);
  jp->call->Send(
      req, [this, jp](const ipc::DeliveryResult& r) { OnResult(jp, r); },
      [this, jp](ipc::AgentCall::End how, const std::string& w) { OnJobEnd(jp, how, w); });
  return true;
}

void Manager::OnResult(Job* job, const ipc::DeliveryResult& r) {
  const Entry* e = nullptr;
  for (const Entry& x : job->entries) {
    if (x.id == r.envelope_id) e = &x;
  }
  if (!e || !job->answered.insert(r.envelope_id).second) {
    log::Warning("transport {}: result for envelope {} that it was not given (or twice); ignored",
                 job->dest->transport->name, queue::FormatEnvId(r.envelope_id));
    return;
  }
  log::Trace("scheduler", "{}: result for <{}> from {}:{}: {} {} ({})", queue::FormatMsgId(job->msg), e->address,
             job->dest->transport->name, job->dest->nexthop,
             r.status == ipc::DeliveryStatus::kSent       ? "sent"
             : r.status == ipc::DeliveryStatus::kBounced ? "bounced"
                                                          : "deferred",
             r.dsn, r.reason);
  // The delay as the status line's delay= (arrival to now), for the metrics histogram.
  double delay = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count() -
                 double(messages_.at(job->msg).rec.arrival);
  stats::CountDelivery(job->dest->transport->name + ":" + job->dest->nexthop,
                       r.status == ipc::DeliveryStatus::kSent       ? "ok"
                       : r.status == ipc::DeliveryStatus::kBounced ? "permfail"
                                                                    : "tempfail",
                       delay);
  // smtpctl's loop counter: a delivery agent saw the message come back (5.4.6).
  if (r.status == ipc::DeliveryStatus::kBounced && r.dsn == "5.4.6") stats::Count("scheduler.delivery.loop");
  NoteHostStat(e->address, r);
  // Postfix's delivery agents say relay=none when no server was reached.
  bool reached_server = !r.relay.empty() && r.relay != "none";
  switch (r.status) {
    case ipc::DeliveryStatus::kSent:
      job->reached = true;
      Sent(job->msg, *e, &r, job->dest->transport->name);
      break;
    case ipc::DeliveryStatus::kBounced:
      job->reached = true;
      Bounce(job->msg, *e, r.dsn, r.reason, r.relay.empty() ? "none" : r.relay);
      break;
    case ipc::DeliveryStatus::kDeferred:
      job->reached |= reached_server;
      job->last_reason = r.reason;
      Defer(job->msg, *e, r.dsn.empty() ? "4.0.0" : r.dsn, r.reason, false, r.relay.empty() ? "none" : r.relay);
      break;
  }
}

void Manager::OnJobEnd(Job* job, ipc::AgentCall::End how, const std::string& why) {
  Dest* d = job->dest;
  Transport* t = d->transport;
  --d->busy;
  --busy_;
  std::vector<const Entry*> left;
  for (const Entry& e : job->entries) {
    if (!job->answered.count(e.id)) left.push_back(&e);
  }
  if (how == ipc::AgentCall::End::kCrashed) {
    ++stats_.crashes;
    log::Warning("{}: transport {} failed on a delivery request: {}", queue::FormatMsgId(job->msg), t->name, why);
    // Not a verdict on the destination: the envelopes wait, the transport rests.
    for (const Entry* e : left) Defer(job->msg, *e, "4.3.0", "unknown mail transport error", true);
    Unavailable(t, "unknown mail transport error");
  } else {
    for (const Entry* e : left) Defer(job->msg, *e, "4.3.0", "mail transport gave no result", true);
    if (job->reached) {
      // Counted with this delivery still busy, as Postfix does before it
      // lets go of the entry.
      d->window.Success(d->busy + 1);
    } else if (!job->answered.empty() && d->window.Failure()) {
      KillDest(d, job->last_reason.empty() ? "destination not reachable" : job->last_reason);
    }
  }
  finished_.push_back(std::move(jobs_[job]));
  jobs_.erase(job);
  if (!reaper_.active()) reaper_.Start(0, 0, [this] { finished_.clear(); });
  Pump();
  MaybeDrained();
}

void Manager::Unavailable(Transport* t, const std::string& why) {
  int64_t now = std::time(nullptr);
  if (t->throttled_until <= now) {
    log::Warning("transport {} unavailable, throttled for {}s: {}", t->name, s_.transport_retry, why);
  }
  t->throttled_until = now + std::max<int64_t>(1, s_.transport_retry);
  t->throttle_reason = why;
  for (auto& [k, d] : dests_) {
    if (d->transport == t) DeferAll(d.get(), "4.3.0", "mail transport unavailable");
  }
}

void Manager::KillDest(Dest* d, const std::string& why) {
  d->dead_reason = why;
  log::Info("{}:{}: destination dead after a failed cohort, retry in {}s: {}", d->transport->name, d->nexthop,
            s_.min_backoff, why);
  DeferAll(d, "4.4.1", "delivery temporarily suspended: " + why);
  if (!d->resume) d->resume = std::make_unique<event::Timer>(loop_);
  // Pump from a fresh callback: it may forget the revived destination, and
  // with it this timer.
  d->resume->Start(static_cast<uint64_t>(std::max<int64_t>(1, s_.min_backoff)) * 1000, 0, [this, d] {
    d->window.Revive();
    SchedulePump(0);
  });
}

}  // namespace postern::qmgr
