// qmgr/control_bulk.cc — `schedule all`, `remove all`, `pause envelope all`
// and `resume envelope all` over a queue of any size: a page of messages per
// loop turn, their envelopes changed in one queue transaction, so that qmgr
// keeps delivering and answering (other control requests run beside it) and
// memory stays bounded; the answer is smtpctl's one "N envelopes <done>" line.
#include <ctime>
#include <set>

#include "postern/ipc/control.h"
#include "postern/log/log.h"
#include "postern/stats/recorder.h"
#include "qmgr/control.h"

namespace postern::qmgr {

namespace ctlproto = ipc::control;

namespace {

constexpr size_t kBulkMessages = 100;   // messages read per loop turn
constexpr size_t kBulkEnvelopes = 500;  // envelopes changed per transaction (whole messages)
// A pause between pages: a 0 ms libuv timer started from a timer callback
// runs again in the same pass (libuv 1.44) and would starve the I/O.
constexpr uint64_t kBulkPauseMs = 1;

}  // namespace

void Control::StartBulk(BulkOp op, const std::string& done, ReplyPtr reply) {
  auto job = std::make_unique<BulkJob>(loop_);
  job->op = op;
  job->done = done;
  job->reply = std::move(reply);
  BulkJob* j = job.get();
  bulk_.push_back(std::move(job));
  j->timer.Start(0, 0, [this, j] { BulkStep(j); });
}

void Control::BulkStep(BulkJob* j) {
  if (mgr_.draining() || j->reply->cancelled()) {
    log::Info("{} all: stopped after {} envelope(s): {}", BulkVerb(j->op), j->count,
              mgr_.draining() ? "the queue manager is stopping" : "the requester went away");
    if (mgr_.draining())
      j->reply->Fail("the queue manager is stopping; " + std::to_string(j->count) + " envelope(s) " + j->done);
    return EndBulk(j);
  }
  std::vector<queue::Envelope> envs;
  bool last = false;
  while (envs.size() < kBulkEnvelopes) {
    auto page = q_.ListMessages(j->after, kBulkMessages);
    if (!page.ok()) {
      j->reply->Fail("queue: " + page.status().message);
      return EndBulk(j);
    }
    for (const auto& m : *page) {
      j->after = m.id;
      if (auto e = q_.Envelopes(m.id); e.ok()) envs.insert(envs.end(), e->begin(), e->end());
      if (envs.size() >= kBulkEnvelopes) break;
    }
    if (page->size() < kBulkMessages && (page->empty() || page->back().id == j->after)) {
      last = true;
      break;
    }
  }
  size_t n = BulkApply(j->op, envs);
  j->count += n;
  ++j->batches;
  log::Trace("scheduler", "{} all: batch {}: {} of {} envelope(s) {}, {} so far", BulkVerb(j->op), j->batches, n,
             envs.size(), j->done, j->count);
  if (!last) {
    j->reply->KeepAlive();  // master's control_timeout hears that we work on it
    j->timer.Start(kBulkPauseMs, 0, [this, j] { BulkStep(j); });
    return;
  }
  if (j->count > 0) mgr_.Kick();
  j->reply->Line(std::to_string(j->count) + (j->count > 1 ? " envelopes " : " envelope ") + j->done);
  j->reply->Finish();
  EndBulk(j);
}

void Control::EndBulk(BulkJob* j) {
  // Kept until the next job ends: we may be inside its timer's callback now
  // (an earlier finished job's callback is long over).
  finished_bulk_.clear();
  for (auto it = bulk_.begin(); it != bulk_.end(); ++it) {
    if (it->get() != j) continue;
    finished_bulk_.push_back(std::move(*it));
    bulk_.erase(it);
    break;
  }
}

const char* Control::BulkVerb(BulkOp op) {
  switch (op) {
    case BulkOp::kSchedule: return "schedule";
    case BulkOp::kRemove: return "remove";
    case BulkOp::kHold: return "pause envelope";
    case BulkOp::kRelease: return "resume envelope";
  }
  return "?";
}

// One page: what applies is changed in one transaction; returns how many.
size_t Control::BulkApply(BulkOp op, const std::vector<queue::Envelope>& envs) {
  int64_t now = std::time(nullptr);
  std::vector<std::pair<queue::EnvId, queue::EnvelopeUpdate>> updates;
  std::vector<const queue::Envelope*> targets;
  size_t waiting = 0;  // schedule: due already, waiting in core for their destination
  for (const auto& e : envs) {
    queue::EnvelopeUpdate u;
    switch (op) {
      case BulkOp::kRemove:
        if (InFlight(e.id)) continue;
        targets.push_back(&e);
        continue;
      case BulkOp::kSchedule:
        if (Waiting(e.id)) {
          ++waiting;
          mgr_.ReviveDest(e.transport, e.nexthop);
          continue;
        }
        if (!queue::Scheduled(e.state)) continue;
        u.next_attempt = now;
        mgr_.ReviveDest(e.transport, e.nexthop);
        break;
      case BulkOp::kHold:
        if (e.state == queue::State::kHold || e.state == queue::State::kCorrupt || InFlight(e.id)) continue;
        // Waiting here it is active in the queue: out of core, then held.
        if (e.state == queue::State::kActive && !mgr_.Unqueue(e.id)) continue;
        u.state = queue::State::kHold;
        break;
      case BulkOp::kRelease:
        if (e.state != queue::State::kHold) continue;
        u.state = queue::State::kDeferred;
        u.next_attempt = now;
        break;
    }
    updates.emplace_back(e.id, std::move(u));
  }
  size_t n = waiting;
  if (op != BulkOp::kRemove) {
    std::vector<queue::Status> st = q_.UpdateMany(updates);
    for (size_t i = 0; i < st.size(); ++i) {
      if (st[i].ok()) ++n;
      else if (st[i].code != queue::Code::kNotFound)
        log::Warning("{}: {} envelope {}: {}", queue::FormatMsgId(queue::MsgOf(updates[i].first)), BulkVerb(op),
                     queue::FormatEnvId(updates[i].first), st[i].message);
    }
    return n;
  }
  return n + BulkRemove(targets);
}

// One transaction; "removed" for each message whose last envelope went, now
// or as it leaves core.
size_t Control::BulkRemove(const std::vector<const queue::Envelope*>& targets) {
  std::vector<queue::EnvId> ids;
  for (const auto* e : targets) ids.push_back(e->id);
  std::vector<queue::MsgId> gone;
  std::vector<queue::Status> st = q_.RemoveMany(ids, &gone);
  size_t n = 0;
  for (size_t i = 0; i < st.size(); ++i) {
    if (!st[i].ok()) continue;
    ++n;
    LogRemoved(queue::MsgOf(ids[i]), targets[i]->recipient);
  }
  mgr_.NoteGone(gone);
  for (size_t i = 0; i < st.size(); ++i)
    if (st[i].ok()) mgr_.Unqueue(ids[i]);
  return n;
}

}  // namespace postern::qmgr
