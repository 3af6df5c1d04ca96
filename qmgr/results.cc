// qmgr/results.cc — recording each recipient's outcome in the queue: sent →
// removed, deferred → next attempt after backoff (or expired past its
// lifetime), bounced and expired → kept until the bounce service has queued
// the notice to the sender (notify.cc), then removed.
#include <chrono>
#include <cmath>
#include <ctime>

#include <fmt/format.h>

#include "log/log.h"
#include "qmgr/manager.h"
#include "stats/recorder.h"

namespace postern::qmgr {

namespace {

// Postfix prints delays with less precision as they grow: 0.41, 3.2, 75.
std::string Seconds(double s) {
  if (s < 0) s = 0;
  if (s < 1) return fmt::format("{:.2g}", s);
  if (s < 10) return fmt::format("{:.1f}", s);
  return fmt::format("{:.0f}", s);
}

int64_t CeilSeconds() {
  using namespace std::chrono;
  int64_t ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  return (ms + 999) / 1000;
}

double Age(int64_t arrival) {
  using namespace std::chrono;
  double now = duration_cast<duration<double>>(system_clock::now().time_since_epoch()).count();
  return now - static_cast<double>(arrival);
}

}  // namespace

int64_t Manager::ExpiryOf(const Message& m) const {
  return m.rec.arrival + (m.rec.sender.empty() ? s_.bounce_lifetime : s_.max_lifetime);
}

void Manager::LogStatus(queue::MsgId msg, const Entry& e, const std::string& relay, const std::string& dsn,
                        const std::string& status, const std::string& reason) {
  const Message& m = messages_.at(msg);
  std::string delay = Seconds(Age(m.rec.arrival));
  log::Info("{}: to=<{}>, relay={}, delay={}, delays={}/0/0/0, dsn={}, status={} ({})", queue::FormatMsgId(msg),
            e.address, relay, delay, delay, dsn, status, reason);
}

void Manager::Sent(queue::MsgId msg, const Entry& e, const ipc::DeliveryResult* r, const std::string& transport) {
  // NOTIFY=SUCCESS: the body must outlive the envelope until bounce has read it.
  bool keep = r && NoteSuccess(messages_.at(msg), e, *r, transport);
  ++stats_.sent;
  if (!keep) return RemoveSoon(e.id);  // Done(msg) once the removal is committed
  Done(msg);
}

void Manager::Defer(queue::MsgId msg, const Entry& e, const std::string& dsn, const std::string& reason,
                    bool log_it, const std::string& relay) {
  Message& m = messages_.at(msg);
  int64_t now = std::time(nullptr);
  if (log_it) LogStatus(msg, e, relay, dsn, "deferred", reason);
  if (now >= ExpiryOf(m)) return Expire(msg, e, reason, dsn, relay);
  NoteDelay(m, e, dsn, reason, relay);
  uint32_t attempts = e.attempts + 1;
  queue::EnvelopeUpdate u;
  u.state = queue::State::kDeferred;
  u.attempts = attempts;
  // Queue times are whole seconds: round up so that no retry comes early.
  u.next_attempt = CeilSeconds() + Backoff(attempts, s_.min_backoff, s_.max_backoff);
  u.last_attempt = now;
  u.last_error = reason.substr(0, queue::kMaxError);
  if (auto st = q_->Update(e.id, u); !st.ok()) RetryUpdate(e.id, u, st);
  ++stats_.deferred;
  Done(msg);
}

void Manager::Bounce(queue::MsgId msg, const Entry& e, const std::string& dsn, const std::string& reason,
                     const std::string& relay) {
  messages_.at(msg).failed.push_back({e.id, {e.address, e.orig, e.notify, "failed", dsn, reason, relay}});
  ++stats_.bounced;
  Done(msg);
}

void Manager::Expire(queue::MsgId msg, const Entry& e, const std::string& reason, const std::string& dsn,
                     const std::string& relay) {
  Message& m = messages_.at(msg);
  m.failed.push_back({e.id, {e.address, e.orig, e.notify, "failed", dsn, reason, relay}});
  ++stats_.expired;
  stats::Count("scheduler.envelope.expired");
  if (!m.expired_logged) {
    m.expired_logged = true;
    log::Info("{}: from=<{}>, status=expired, returned to sender", queue::FormatMsgId(msg), m.rec.sender);
  }
  log::Verbose("{}: to=<{}> expired: {}", queue::FormatMsgId(msg), e.address, reason);
  Done(msg);
}

void Manager::Done(queue::MsgId msg) {
  auto it = messages_.find(msg);
  if (it == messages_.end()) return;
  --in_core_;
  // The message leaves core once its notices are queued (notify.cc).
  if (--it->second.in_core == 0 && !Notify(msg)) return Forget(msg);
  // A scan stopped by the active-set bounds goes on once there is room.
  if (full_ && !Full()) ScanSoon();
}

void Manager::DeferAll(Dest* d, const std::string& dsn, const std::string& reason) {
  auto todo = std::move(d->todo);
  d->todo.clear();
  d->order.clear();
  for (auto& [msg, entries] : todo) {
    for (const Entry& e : entries) Defer(msg, e, dsn, reason, true);
  }
}

}  // namespace postern::qmgr
