// qmgr/scan.cc — scanning: due envelopes enter the active set (claimed active in
// the queue with their route, one commit per page) until its bounds are reached.
#include <algorithm>
#include <chrono>
#include <climits>
#include <ctime>

#include "postern/log/log.h"
#include "qmgr/manager.h"

namespace postern::qmgr {

namespace {

constexpr size_t kScanPage = 200;
// The next page's delay. Not 0: libuv before 1.48 (Debian 12 has 1.44) runs
// a 0 ms timer re-armed from its own callback again in the same pass over
// the timers (libuv issue 4245), so a scan of 20,000 envelopes ran as one
// loop turn and every control request and result waited for all of it.
constexpr uint64_t kNextPageMs = 1;

int64_t NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// A claim: it applies only if the envelope is still as the scan read it, so
// that of two queue managers (the old and the new one during a reload) one
// activates it, never both.
queue::EnvelopeUpdate Activation(const queue::Envelope& e, const Result<route::Route>& route) {
  queue::EnvelopeUpdate u;
  u.expect = queue::Expected::Of(e);
  u.state = queue::State::kActive;
  if (route) {
    u.transport = route->transport;
    u.nexthop = route->nexthop;
  }
  return u;
}

// A FILTER action's "transport:nexthop" replaces the recipient's route; an
// empty nexthop is the recipient's domain, as Postfix's content_filter.
route::Route FilterRoute(const queue::Envelope& e) {
  route::Route r = route::ParseSpec(e.filter);
  if (r.nexthop.empty()) {
    size_t at = e.recipient.rfind('@');
    r.nexthop = at == std::string::npos ? std::string() : e.recipient.substr(at + 1);
  }
  return r;
}

}  // namespace

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

void Manager::ScanSoon() {
  if (!soon_timer_.active()) soon_timer_.Start(0, 0, [this] { Scan(std::time(nullptr)); });
}

void Manager::ScanPage() {
  if (draining_ || backing_off_) return;
  if (retired_ && retired_()) {
    scanning_ = false;  // the skeleton drains this process on its next loop turn
    return;
  }
  auto page = store_.ListScheduled(&cursor_, scan_until_, kScanPage);
  if (!page.ok()) log::Warning("queue scan: {}", page.status().message);
  size_t n = page.ok() ? page->size() : 0;
  std::vector<const queue::Envelope*> admitted;
  std::vector<Result<route::Route>> routes;
  std::vector<Store::Change> activations;
  for (size_t i = 0; i < n; ++i) {
    const queue::Envelope& e = (*page)[i];
    if (!active_.Admits(queue::MsgOf(e.id))) {
      full_ = true;
      break;
    }
    if (!seen_.insert(e.id).second) continue;
    if (Message* m = LoadMessage(queue::MsgOf(e.id))) {
      // Counted now, so that the bounds above see it; undone if activation fails.
      active_.Count(*m);
      routes.push_back(e.filter.empty() ? router_.Resolve(e.recipient) : Result<route::Route>(FilterRoute(e)));
      activations.emplace_back(e.id, Activation(e, routes.back()));
      admitted.push_back(&e);
    }
  }
  // The whole page becomes active in one queue commit: one flush, not one per envelope.
  std::vector<queue::Status> activated = store_.UpdateMany(activations);
  log::Trace("scheduler", "scan: {} due envelope(s) read, {} taken into the active set ({} in core){}", n,
             admitted.size(), active_.in_core(), full_ ? ", active set full" : "");
  for (size_t i = 0; i < admitted.size(); ++i) Admit(*admitted[i], routes[i], activated[i]);
  if (!activated.empty() && CommitFailed(activated[0])) {
    // Nothing of the page became active: pause instead of taking it again at once.
    QueueFailure("cannot activate " + std::to_string(activated.size()) + " envelope(s)", activated[0]);
    return Pump();
  }
  if (!activated.empty()) QueueWorks();
  Pump();
  if (n == kScanPage && !full_) {
    page_timer_.Start(kNextPageMs, 0, [this] { ScanPage(); });
    return;
  }
  EndScan();
}

void Manager::EndScan() {
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
  auto first = store_.ListScheduled(&c, INT64_MAX, 1);
  if (!first.ok() || first->empty()) return;
  int64_t wait = (*first)[0].next_attempt * 1000 - NowMs();
  int64_t cap = std::max<int64_t>(1, s_.queue_run_delay) * 1000;
  if (wait >= cap) return;
  due_timer_.Start(static_cast<uint64_t>(std::max<int64_t>(wait, 0) + 5), 0, [this] { Scan(std::time(nullptr)); });
}

Message* Manager::LoadMessage(queue::MsgId id) {
  if (Message* m = active_.Find(id)) return m;
  auto rec = store_.GetMessage(id);
  if (!rec.ok()) {
    if (rec.code() == queue::Code::kCorrupt) (void)store_.MarkCorrupt(id, rec.status().message);
    else if (rec.code() != queue::Code::kNotFound) log::Warning("{}: {}", queue::FormatMsgId(id), rec.status().message);
    return nullptr;
  }
  return &active_.Insert(id, std::move(*rec));
}

// `e` was counted in core by ScanPage and `activated` says whether the queue
// now has it active.
void Manager::Admit(const queue::Envelope& e, const Result<route::Route>& route, const queue::Status& activated) {
  queue::MsgId msg = queue::MsgOf(e.id);
  const std::string id = queue::FormatMsgId(msg);
  if (!activated.ok()) {
    // Taken, rescheduled or removed by another process since the scan read it.
    if (activated.code == queue::Code::kConflict || activated.code == queue::Code::kNotFound)
      log::Trace("scheduler", "{}: envelope {} not claimed: {}", id, queue::FormatEnvId(e.id), activated.message);
    else if (!CommitFailed(activated))
      log::Warning("{}: cannot activate envelope {}: {}", id, queue::FormatEnvId(e.id), activated.message);
    if (active_.Uncount(msg)) Settle(msg);
    return;
  }
  Message* m = active_.Find(msg);
  // Logged once this qmgr holds an envelope of it, not when it merely read one.
  if (!m->active_logged) {
    m->active_logged = true;
    log::Info("{}: from=<{}>, size={}, nrcpt={} (queue active)", id, m->rec.sender, m->rec.size, m->rec.nrcpt);
  }
  Entry entry{e.id, e.recipient, e.orig_recipient, e.notify, e.attempts};
  if (!route) {
    log::Trace("scheduler", "{}: envelope {} to <{}>: no route: {}", id, queue::FormatEnvId(e.id), e.recipient,
               route.error());
    // A table that cannot be read now: try later rather than guess a route.
    return Defer(msg, entry, "4.3.0", "address resolver failure: " + route.error());
  }
  Placement p = active_.Place(msg, entry, route->transport, route->nexthop, std::time(nullptr));
  if (!p.warning.empty()) log::Warning("{}", p.warning);
  if (!p.queued) return Defer(msg, entry, p.dsn, p.reason);
  log::Trace("scheduler", "{}: envelope {} to <{}> routed to {}:{}, queued with {} message(s) waiting there", id,
             queue::FormatEnvId(e.id), e.recipient, route->transport, route->nexthop, p.waiting);
}

}  // namespace postern::qmgr
