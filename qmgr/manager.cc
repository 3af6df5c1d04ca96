// qmgr/manager.cc — scanning: due envelopes enter the active set (marked
// active in the queue, with their route) until its bounds are reached.
#include "qmgr/manager.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <ctime>

#include "log/log.h"

namespace postern::qmgr {

namespace {

constexpr size_t kScanPage = 200;

int64_t NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

Manager::Manager(uv_loop_t* loop, config::Config cfg, Settings settings, route::Router router,
                 std::unique_ptr<queue::Queue> q)
    : loop_(loop),
      cfg_(std::move(cfg)),
      s_(std::move(settings)),
      router_(std::move(router)),
      q_(std::move(q)),
      drain_check_(loop),
      page_timer_(loop),
      run_timer_(loop),
      due_timer_(loop),
      pump_timer_(loop),
      reaper_(loop),
      soon_timer_(loop),
      remove_timer_(loop),
      backoff_timer_(loop) {}

Manager::~Manager() = default;

void Manager::Start() {
  q_->KeepReserve();
  ArmRunTimer();
  Scan(std::time(nullptr));
}

void Manager::Trigger(std::string_view request) {
  if (draining_) return;
  int64_t until = std::time(nullptr);
  for (char c : request) {
    if (c == 'F') {
      // postern flush: give dead destinations and throttled transports another chance now.
      for (auto& [k, d] : dests_) {
        if (d->window.dead()) {
          d->window.Revive();
          d->resume.reset();
        }
      }
      for (auto& [n, t] : transports_) t->throttled_until = 0;
    } else if (c == 'A') {
      until = INT64_MAX;
    }
  }
  Scan(until);
  Pump();
}

void Manager::RemoveSoon(queue::EnvId id) {
  if (removals_.empty()) remove_timer_.Start(0, 0, [this] { FlushRemovals(); });
  removals_.push_back(id);
}

void Manager::FlushRemovals() {
  if (removals_.empty()) return;
  std::vector<queue::EnvId> ids;
  ids.swap(removals_);
  remove_timer_.Stop();
  std::vector<queue::Status> st = q_->RemoveMany(ids);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!st[i].ok() && st[i].code != queue::Code::kNotFound) RetryRemoval(ids[i], st[i]);
    Done(queue::MsgOf(ids[i]));
  }
  MaybeDrained();
}

void Manager::Drain(server::Lease hold) {
  FlushRemovals();  // delivered mail must not be delivered again by the next qmgr
  draining_ = true;
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
  std::vector<std::pair<queue::EnvId, queue::EnvelopeUpdate>> back;
  for (auto& [k, d] : dests_) {
    for (auto& [msg, entries] : d->todo)
      for (const Entry& e : entries) back.emplace_back(e.id, due);
    d->todo.clear();
    d->order.clear();
  }
  (void)q_->UpdateMany(back);
  log::Info("stopping: sent={} deferred={} bounced={} expired={} requests={} crashes={}, {} deliveries in flight",
            stats_.sent, stats_.deferred, stats_.bounced, stats_.expired, stats_.requests, stats_.crashes,
            jobs_.size());
  MaybeDrained();
}

// Checked on the next loop turn, once a result's removals and notices are
// under way: the last result of a message may start a bounce request.
void Manager::MaybeDrained() {
  if (!draining_ || drain_check_.active()) return;
  drain_check_.Start(0, 0, [this] {
    if (!jobs_.empty() || !notices_.empty() || !removals_.empty()) return;
    log::Verbose("deliveries in flight at retirement recorded; exiting");
    drain_hold_.Release();
  });
}

bool Manager::Full() const {
  return messages_.size() >= s_.message_active_limit || in_core_ >= s_.recipient_active_limit;
}

// Scans run in pages, one page per loop turn, so that results and triggers
// are served while a large queue is being read.
void Manager::Scan(int64_t until) {
  if (draining_) return;
  if (backing_off_) {  // the end of the backoff scans, this far
    backoff_scan_until_ = std::max(backoff_scan_until_, until);
    return;
  }
  if (scanning_) {
    rescan_ = true;
    rescan_until_ = std::max(rescan_until_, until);
    return;
  }
  scanning_ = true;
  full_ = false;
  scan_until_ = until;
  cursor_ = {};
  seen_.clear();
  ScanPage();
}

void Manager::ScanPage() {
  if (draining_ || backing_off_) return;
  if (retired_ && retired_()) {
    scanning_ = false;  // the skeleton drains this process on its next loop turn
    return;
  }
  auto page = q_->ListScheduled(&cursor_, scan_until_, kScanPage);
  if (!page.ok()) log::Warning("queue scan: {}", page.status().message);
  size_t n = page.ok() ? page->size() : 0;
  std::vector<const queue::Envelope*> admitted;
  std::vector<Result<route::Route>> routes;
  std::vector<std::pair<queue::EnvId, queue::EnvelopeUpdate>> activations;
  for (size_t i = 0; i < n && !full_; ++i) {
    const queue::Envelope& e = (*page)[i];
    if (Full() && !messages_.count(queue::MsgOf(e.id))) {
      full_ = true;
      break;
    }
    if (in_core_ >= s_.recipient_active_limit) {
      full_ = true;
      break;
    }
    if (!seen_.insert(e.id).second) continue;
    if (Message* m = LoadMessage(queue::MsgOf(e.id))) {
      // Counted now, so that the bounds above see it; undone if activation fails.
      ++m->in_core;
      ++in_core_;
      routes.push_back(router_.Resolve(e.recipient));
      activations.emplace_back(e.id, Activation(e, routes.back()));
      admitted.push_back(&e);
    }
  }
  // The whole page becomes active in one queue commit: one flush, not one per envelope.
  std::vector<queue::Status> activated = q_->UpdateMany(activations);
  log::Trace("scheduler", "scan: {} due envelope(s) read, {} taken into the active set ({} in core){}", n,
             admitted.size(), in_core_, full_ ? ", active set full" : "");
  for (size_t i = 0; i < admitted.size(); ++i) Admit(*admitted[i], routes[i], activated[i]);
  if (!activated.empty() && CommitFailed(activated[0])) {
    // Nothing of the page became active: pause instead of taking it again at once.
    QueueFailure("cannot activate " + std::to_string(activated.size()) + " envelope(s)", activated[0]);
    return Pump();
  }
  if (!activated.empty()) QueueWorks();
  Pump();
  if (n == kScanPage && !full_) {
    page_timer_.Start(0, 0, [this] { ScanPage(); });
    return;
  }
  scanning_ = false;
  seen_.clear();
  if (rescan_) {
    rescan_ = false;
    int64_t until = rescan_until_;
    rescan_until_ = 0;
    return Scan(std::max<int64_t>(until, std::time(nullptr)));
  }
  ArmNextDue();
}

// Wakes for the earliest envelope not yet due, so that a short backoff is
// honoured without waiting for the next queue_run_delay scan.
void Manager::ArmNextDue() {
  if (full_) return;  // space freed by finished messages triggers the next scan
  queue::ScheduleCursor c;
  auto first = q_->ListScheduled(&c, INT64_MAX, 1);
  if (!first.ok() || first->empty()) return;
  int64_t wait = (*first)[0].next_attempt * 1000 - NowMs();
  int64_t cap = std::max<int64_t>(1, s_.queue_run_delay) * 1000;
  if (wait >= cap) return;
  due_timer_.Start(static_cast<uint64_t>(std::max<int64_t>(wait, 0) + 5), 0,
                   [this] { Scan(std::time(nullptr)); });
}

Manager::Message* Manager::LoadMessage(queue::MsgId id) {
  if (auto it = messages_.find(id); it != messages_.end()) return &it->second;
  auto rec = q_->GetMessage(id);
  if (!rec.ok()) {
    if (rec.code() == queue::Code::kCorrupt) (void)q_->MarkCorrupt(id, rec.status().message);
    else if (rec.code() != queue::Code::kNotFound) log::Warning("{}: {}", queue::FormatMsgId(id), rec.status().message);
    return nullptr;
  }
  Message& m = messages_[id];
  m.rec = std::move(*rec);
  return &m;
}

// A claim: it applies only if the envelope is still as the scan read it, so
// that of two queue managers (the old and the new one during a reload) one
// activates it, never both.
queue::EnvelopeUpdate Manager::Activation(const queue::Envelope& e, const Result<route::Route>& route) {
  queue::EnvelopeUpdate u;
  u.expect = queue::Expected::Of(e);
  u.state = queue::State::kActive;
  if (route) {
    u.transport = route->transport;
    u.nexthop = route->nexthop;
  }
  return u;
}

// `e` was counted in core by ScanPage and `activated` says whether the queue
// now has it active.
void Manager::Admit(const queue::Envelope& e, const Result<route::Route>& route, const queue::Status& activated) {
  queue::MsgId msg = queue::MsgOf(e.id);
  Message* m = &messages_.at(msg);
  if (!activated.ok()) {
    // Taken, rescheduled or removed by another process since the scan read it.
    if (activated.code == queue::Code::kConflict || activated.code == queue::Code::kNotFound)
      log::Trace("scheduler", "{}: envelope {} not claimed: {}", queue::FormatMsgId(msg), queue::FormatEnvId(e.id),
                 activated.message);
    else if (!CommitFailed(activated))
      log::Warning("{}: cannot activate envelope {}: {}", queue::FormatMsgId(msg), queue::FormatEnvId(e.id),
                   activated.message);
    --in_core_;
    if (--m->in_core == 0) messages_.erase(msg);
    return;
  }
  // Logged once this qmgr holds an envelope of it, not when it merely read one.
  if (!m->active_logged) {
    m->active_logged = true;
    log::Info("{}: from=<{}>, size={}, nrcpt={} (queue active)", queue::FormatMsgId(msg), m->rec.sender, m->rec.size,
              m->rec.nrcpt);
  }
  Entry entry{e.id, e.recipient, e.orig_recipient, e.notify, e.attempts};
  if (!route) {
    log::Trace("scheduler", "{}: envelope {} to <{}>: no route: {}", queue::FormatMsgId(msg),
               queue::FormatEnvId(e.id), e.recipient, route.error());
    // A table that cannot be read now: try later rather than guess a route.
    Defer(msg, entry, "4.3.0", "address resolver failure: " + route.error(), true);
    return;
  }
  Dest* d = GetDest(route->transport, route->nexthop);
  if (!d) {
    Defer(msg, entry, "4.3.5", "mail transport " + route->transport + " is misconfigured", true);
    return;
  }
  if (d->window.dead()) {
    Defer(msg, entry, "4.4.1", "delivery temporarily suspended: " + d->dead_reason, true);
    return;
  }
  if (d->transport->throttled_until > std::time(nullptr)) {
    Defer(msg, entry, "4.3.0", "delivery temporarily suspended: " + d->transport->throttle_reason, true);
    return;
  }
  auto& list = d->todo[msg];
  if (list.empty()) d->order.push_back(msg);
  list.push_back(std::move(entry));
  log::Trace("scheduler", "{}: envelope {} to <{}> routed to {}:{}, queued with {} message(s) waiting there",
             queue::FormatMsgId(msg), queue::FormatEnvId(e.id), e.recipient, route->transport, route->nexthop,
             d->order.size());
}

Manager::Transport* Manager::GetTransport(const std::string& name) {
  if (auto it = transports_.find(name); it != transports_.end()) return it->second.get();
  auto limits = LimitsFor(cfg_, name);
  if (!limits) {
    log::Warning("transport {}: {}", name, limits.error());
    return nullptr;
  }
  auto t = std::make_unique<Transport>();
  t->name = name;
  t->limits = *limits;
  return (transports_[name] = std::move(t)).get();
}

Manager::Dest* Manager::GetDest(const std::string& transport, const std::string& nexthop) {
  auto key = std::make_pair(transport, nexthop);
  if (auto it = dests_.find(key); it != dests_.end()) return it->second.get();
  Transport* t = GetTransport(transport);
  if (!t) return nullptr;
  auto d = std::make_unique<Dest>(t->limits.window);
  d->transport = t;
  d->nexthop = nexthop;
  return (dests_[key] = std::move(d)).get();
}

}  // namespace postern::qmgr
