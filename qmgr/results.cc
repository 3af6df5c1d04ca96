// qmgr/results.cc — applying the recorder's changes (recorder.h): log lines, the
// envelope's update, and the one removal path for delivered and reported envelopes,
// one queue commit per loop turn; a message leaves core once nothing of it is left.
#include <chrono>
#include <ctime>

#include "postern/log/log.h"
#include "postern/stats/recorder.h"
#include "qmgr/manager.h"

namespace postern::qmgr {

namespace {

int64_t NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

void Manager::Record(queue::MsgId msg, const Entry& e, const Outcome& o) {
  Message* m = active_.Find(msg);
  if (!m) return;
  Change c = recorder_.Record(*m, msg, e, o, NowMs());
  for (const std::string& line : c.info) log::Info("{}", line);
  if (!c.verbose.empty()) log::Verbose("{}", c.verbose);
  if (c.expired) stats::Count("scheduler.envelope.expired");
  switch (c.then) {
    case Change::Then::kRemove: return RemoveSoon(e.id, true);  // Done(msg) once the removal is committed
    case Change::Then::kUpdate: Update(e.id, c.update); break;
    case Change::Then::kReport: break;
  }
  Done(msg);
}

// qmgr's own verdicts (no route, resting destination, broken transport) are logged here.
void Manager::Defer(queue::MsgId msg, const Entry& e, const std::string& dsn, const std::string& reason) {
  Outcome o;
  o.dsn = dsn;
  o.reason = reason;
  o.log_it = true;
  Record(msg, e, o);
}

void Manager::DeferAll(std::vector<Waiting> waiting, const std::string& dsn, const std::string& reason) {
  for (const auto& [msg, e] : waiting) Defer(msg, e, dsn, reason);
}

void Manager::Done(queue::MsgId msg) {
  if (!active_.Find(msg)) return;
  if (active_.Uncount(msg)) Settle(msg);
  // A scan stopped by the active-set bounds goes on once there is room.
  if (full_ && !active_.Full()) ScanSoon();
}

// With nothing of it in core and no removal pending, the message's notices go
// out (notify.cc), one kind at a time; then it leaves core.
void Manager::Settle(queue::MsgId msg) {
  Message* m = active_.Find(msg);
  if (!m || m->in_core > 0 || m->removing > 0) return;
  if (!Notify(msg)) Forget(msg);
}

void Manager::Forget(queue::MsgId msg) {
  Message* m = active_.Find(msg);
  if (!m) return;
  if (m->gone) log::Info("{}: removed", queue::FormatMsgId(msg));
  active_.Erase(msg);
  if (full_ && !active_.Full()) ScanSoon();
}

void Manager::RemoveSoon(queue::EnvId id, bool delivered) {
  if (removals_.empty()) remove_timer_.Start(0, 0, [this] { FlushRemovals(); });
  if (!delivered)
    if (Message* m = active_.Find(queue::MsgOf(id))) ++m->removing;
  removals_.emplace_back(id, delivered);
}

// Every result that arrived in this loop turn shares one commit (one flush);
// each message's "removed" follows its removal, so it is logged when true.
void Manager::FlushRemovals() {
  if (removals_.empty()) return;
  std::vector<std::pair<queue::EnvId, bool>> batch;
  batch.swap(removals_);
  remove_timer_.Stop();
  std::vector<queue::EnvId> ids;
  for (const auto& [id, delivered] : batch) ids.push_back(id);
  std::vector<queue::MsgId> gone;
  std::vector<queue::Status> st = store_.RemoveMany(ids, &gone);
  for (size_t i = 0; i < ids.size(); ++i)
    if (!st[i].ok() && st[i].code != queue::Code::kNotFound) RetryRemoval(ids[i], st[i]);
  NoteGone(gone);
  for (const auto& [id, delivered] : batch) {
    queue::MsgId msg = queue::MsgOf(id);
    if (delivered) {
      Done(msg);
    } else if (Message* m = active_.Find(msg)) {
      --m->removing;
      Settle(msg);
    }
  }
  MaybeDrained();
}

}  // namespace postern::qmgr
