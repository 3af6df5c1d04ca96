// qmgr/control.cc — the control adapter's queue commands (see control.h): show
// queue/envelope/message, pause/resume envelope, schedule, remove, discover, uncorrupt.
#include "qmgr/control.h"

#include <ctime>

#include "postern/ipc/control.h"
#include "postern/ipc/control_queue.h"
#include "postern/log/log.h"
#include "postern/stats/recorder.h"

namespace postern::qmgr {

namespace ctlproto = ipc::control;

namespace {

constexpr size_t kListPage = 100;  // messages per step of a listing

std::string Count(size_t n, const char* what) {
  return std::to_string(n) + (n > 1 ? " envelopes " : " envelope ") + what;
}

}  // namespace

Control::Control(uv_loop_t* loop, Manager& mgr, queue::Queue& q) : loop_(loop), mgr_(mgr), q_(q) {
  mgr_.SetResultObserver([this](const Entry& e, const ipc::DeliveryResult& r) { NoteHostStat(e.address, r); });
}

// What the queue alone cannot say of an envelope: waiting here for a window,
// or in flight and since when. Found through its message, so that listing a
// queue much larger than the active set costs nothing for the rest of it.
ctlproto::RunState Control::RunStateOf(const queue::Envelope& e, int64_t now) const {
  if (const Job* job = mgr_.active().JobOf(e.id)) return {ctlproto::RunState::kInflight, now - job->started};
  if (Waiting(e.id)) return {ctlproto::RunState::kPending, 0};
  return ctlproto::StoredRunState(e, now, false);
}

// The queue stores no expiry: qmgr's lifetimes decide it (queue/lifetime.h).
queue::Envelope Control::Listed(const queue::MessageRecord& m, queue::Envelope e) const {
  e.expiry = mgr_.ExpiryOf(m);
  return e;
}

// The envelopes an id argument names: one, or a message's ("all" is a bulk
// job, control_bulk.cc).
void Control::ForEachEnvelope(const ctlproto::IdArg& a, const std::function<void(const queue::Envelope&)>& each) {
  if (a.is_envelope) {
    if (auto e = q_.GetEnvelope(a.id); e.ok()) each(*e);
    return;
  }
  if (auto envs = q_.Envelopes(queue::MsgId(a.id)); envs.ok())
    for (const auto& e : *envs) each(e);
}

void Control::Register() {
  auto& t = ctlproto::ProcessTable();
  using R = std::shared_ptr<ctlproto::Reply>;
  t.Add({"show", "queue"}, [this](const ctlproto::Request& req, R reply) { ShowQueue(req, std::move(reply)); });
  t.Add({"show", "envelope"}, [this](const ctlproto::Request& req, R reply) { ShowEnvelope(req, std::move(reply)); });
  t.Add({"show", "message"}, [this](const ctlproto::Request& req, R reply) { ShowMessage(req, std::move(reply)); });
  t.Add({"pause", "envelope"}, [this](const ctlproto::Request& req, R reply) {
    Change(
        req, std::move(reply), "paused", [this](const queue::Envelope& e) { return HoldOne(e); }, BulkOp::kHold);
  });
  t.Add({"resume", "envelope"}, [this](const ctlproto::Request& req, R reply) {
    Change(
        req, std::move(reply), "resumed",
        [this](const queue::Envelope& e) { return e.state == queue::State::kHold && q_.Release(e.id).ok(); },
        BulkOp::kRelease);
  });
  t.Add({"schedule"}, [this](const ctlproto::Request& req, R reply) {
    Change(
        req, std::move(reply), "scheduled", [this](const queue::Envelope& e) { return ScheduleOne(e); },
        BulkOp::kSchedule);
  });
  t.Add({"remove"}, [this](const ctlproto::Request& req, R reply) {
    Change(
        req, std::move(reply), "removed", [this](const queue::Envelope& e) { return RemoveOne(e); }, BulkOp::kRemove);
  });
  t.Add({"discover"}, [this](const ctlproto::Request& req, R reply) {
    Change(req, std::move(reply), "discovered", [this](const queue::Envelope& e) { return DiscoverOne(e); });
  });
  t.Add({"uncorrupt"}, [this](const ctlproto::Request& req, R reply) { UncorruptCmd(req, std::move(reply)); });
  RegisterRoutes();
}

void Control::ShowQueue(const ctlproto::Request& req, ReplyPtr reply) {
  bool json = false;
  for (const auto& a : req.Args()) {
    if (a != "--json") return reply->Fail("usage: show queue [--json]");
    json = true;
  }
  // One page of messages per step; the Reply asks for the next page only
  // while the client keeps up, so a queue of any size streams in bounded memory.
  auto after = std::make_shared<queue::MsgId>(0);
  reply->Stream([this, json, after](ctlproto::Reply& r) {
    // A page of messages and their envelopes is one read transaction.
    auto page = q_.ListWithEnvelopes(*after, kListPage);
    if (!page.ok()) {
      r.Fail("queue: " + page.status().message);
      return false;
    }
    int64_t now = std::time(nullptr);
    for (const auto& [m, envs] : *page) {
      *after = m.id;
      for (const auto& e : envs) {
        auto rs = RunStateOf(e, now);
        queue::Envelope shown = Listed(m, e);
        r.Line(json ? ctlproto::FormatQueueJson(m, shown, rs) : ctlproto::FormatQueueLine(m, shown, rs));
      }
    }
    return page->size() == kListPage;
  });
}

void Control::ShowEnvelope(const ctlproto::Request& req, ReplyPtr reply) {
  auto args = req.Args();
  auto id =
      args.size() == 1 ? ctlproto::ParseIdArg(args[0], false) : Result<ctlproto::IdArg>(Err("usage: show envelope ID"));
  if (!id) return reply->Fail(id.error());
  if (!id->is_envelope) return reply->Fail("show envelope takes an envelope id (16 hex digits)");
  auto e = q_.GetEnvelope(id->id);
  if (!e.ok()) return reply->Fail("no such envelope: " + args[0]);
  auto m = q_.GetMessage(queue::MsgOf(e->id));
  if (!m.ok()) return reply->Fail(queue::FormatMsgId(queue::MsgOf(e->id)) + ": " + m.status().message);
  int64_t now = std::time(nullptr);
  reply->Text(ctlproto::FormatEnvelopeDetail(*m, Listed(*m, *e), RunStateOf(*e, now)));
  reply->Finish();
}

void Control::ShowMessage(const ctlproto::Request& req, ReplyPtr reply) {
  auto args = req.Args();
  auto id =
      args.size() == 1 ? ctlproto::ParseIdArg(args[0], false) : Result<ctlproto::IdArg>(Err("usage: show message ID"));
  if (!id) return reply->Fail(id.error());
  queue::MsgId msg = id->is_envelope ? queue::MsgOf(id->id) : queue::MsgId(id->id);
  auto body = q_.OpenBody(msg);
  if (!body.ok()) return reply->Fail("no such message: " + args[0]);
  auto reader = std::make_shared<queue::BodyReader>(std::move(*body));
  reply->Stream([reader](ctlproto::Reply& r) {
    std::string buf(ctlproto::kTextChunk, '\0');
    auto n = reader->Read(buf.data(), buf.size());
    if (!n.ok()) {
      r.Fail("read message: " + n.status().message);
      return false;
    }
    r.Text(std::string_view(buf.data(), *n));
    return *n > 0;
  });
}

// The common shape of schedule/remove/pause/resume/discover: an id or all,
// one action per envelope, smtpctl's "N envelope(s) <done>".
void Control::Change(const ctlproto::Request& req, ReplyPtr reply, const char* done,
                     const std::function<bool(const queue::Envelope&)>& action, std::optional<BulkOp> bulk) {
  auto args = req.Args();
  bool allow_all = bulk.has_value();
  if (args.size() != 1) return reply->Fail("usage: " + req.words[0] + (allow_all ? " ID|all" : " ID"));
  auto id = ctlproto::ParseIdArg(args[0], allow_all);
  if (!id) return reply->Fail(id.error());
  // The whole queue: a page per loop turn (control_bulk.cc).
  if (id->all) return StartBulk(*bulk, done, std::move(reply));
  size_t n = 0;
  ForEachEnvelope(*id, [&](const queue::Envelope& e) { n += action(e); });
  if (n > 0) mgr_.Kick();
  reply->Line(Count(n, done));
  reply->Finish();
}

bool Control::HoldOne(const queue::Envelope& e) {
  if (e.state == queue::State::kHold || e.state == queue::State::kCorrupt || InFlight(e.id)) return false;
  if (mgr_.Unqueue(e.id)) {
    // Waiting here, it is active in the queue: make it schedulable to hold it.
    queue::EnvelopeUpdate u;
    u.state = queue::State::kDeferred;
    if (!q_.Update(e.id, u).ok()) return false;
  } else if (e.state == queue::State::kActive) {
    return false;
  }
  return q_.Hold(e.id).ok();
}

bool Control::ScheduleOne(const queue::Envelope& e) {
  if (Waiting(e.id)) {
    // Already due, waiting for its destination: only the destination may need a chance.
  } else if (!queue::Scheduled(e.state)) {
    return false;
  } else {
    queue::EnvelopeUpdate u;
    u.next_attempt = std::time(nullptr);
    if (!q_.Update(e.id, u).ok()) return false;
  }
  mgr_.ReviveDest(e.transport, e.nexthop);
  return true;
}

bool Control::RemoveOne(const queue::Envelope& e) {
  if (InFlight(e.id)) return false;
  std::vector<queue::MsgId> gone;
  if (!q_.RemoveMany({&e.id, 1}, &gone)[0].ok()) return false;
  LogRemoved(queue::MsgOf(e.id), e.recipient);
  mgr_.NoteGone(gone);  // "removed" now, or as the message leaves core
  mgr_.Unqueue(e.id);
  return true;
}

void Control::LogRemoved(queue::MsgId msg, const std::string& recipient) {
  log::Info("{}: to=<{}>, status=removed (removed by administrator)", queue::FormatMsgId(msg), recipient);
  stats::Count("scheduler.envelope.removed");
}

// Due envelopes the scheduler does not hold come back in with the next scan;
// an active one that no live process owns is made due (a lost delivery).
bool Control::DiscoverOne(const queue::Envelope& e) {
  if (e.state == queue::State::kHold || e.state == queue::State::kCorrupt) return false;
  if (e.state == queue::State::kActive) {
    if (InFlight(e.id) || Waiting(e.id)) return false;
    queue::EnvelopeUpdate u;
    u.state = queue::State::kDeferred;
    u.next_attempt = std::time(nullptr);
    return q_.Update(e.id, u).ok();
  }
  return true;
}

void Control::UncorruptCmd(const ctlproto::Request& req, ReplyPtr reply) {
  auto args = req.Args();
  auto id =
      args.size() == 1 ? ctlproto::ParseIdArg(args[0], false) : Result<ctlproto::IdArg>(Err("usage: uncorrupt MSGID"));
  if (!id) return reply->Fail(id.error());
  if (id->is_envelope) return reply->Fail("uncorrupt takes a message id (8 hex digits)");
  auto st = q_.Uncorrupt(queue::MsgId(id->id));
  if (!st.ok()) return reply->Fail("command failed: " + args[0] + ": " + st.message);
  log::Info("{}: uncorrupted by administrator", args[0]);
  mgr_.ScanNow();
  reply->Line("command succeeded");
  reply->Finish();
}

}  // namespace postern::qmgr
