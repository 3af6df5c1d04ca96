// qmgr/recorder.cc — a recipient's outcome as a queue change and log lines (see recorder.h).
#include "qmgr/recorder.h"

#include <fmt/format.h>

#include "postern/log/log.h"

namespace postern::qmgr {

std::string Recorder::StatusLine(queue::MsgId msg, const Message& m, const Entry& e, const std::string& relay,
                                 const std::string& dsn, const std::string& status, const std::string& reason,
                                 int64_t now_ms) {
  double age = static_cast<double>(now_ms) / 1000.0 - static_cast<double>(m.rec.arrival);
  return fmt::format("{}: to=<{}>, relay={}, {}, dsn={}, status={} ({})", queue::FormatMsgId(msg), e.address, relay,
                     log::FormatDelays(age, age, 0, 0, 0), dsn, status, reason);
}

Change Recorder::Record(Message& m, queue::MsgId msg, const Entry& e, const Outcome& o, int64_t now_ms) const {
  switch (o.status) {
    case ipc::DeliveryStatus::kSent: return Sent(m, e, o);
    case ipc::DeliveryStatus::kBounced: return Fail(m, msg, e, o, false);
    case ipc::DeliveryStatus::kDeferred: break;
  }
  return Defer(m, msg, e, o, now_ms);
}

Change Recorder::Sent(Message& m, const Entry& e, const Outcome& o) const {
  Change c;
  ++stats_.sent;
  // NOTIFY=SUCCESS: the body must outlive the envelope until bounce has read it.
  bool notice = (e.notify & queue::kNotifySuccess) && !m.rec.sender.empty() &&
                (o.relayed_without_dsn || !o.dsn_passed_on);
  if (!notice) {
    c.then = Change::Then::kRemove;
    return c;
  }
  m.succeeded.push_back({e.id, {e.address, e.orig, e.notify, o.relayed_without_dsn ? "relayed" : "delivered", o.dsn,
                                o.reason, o.relay}});
  return c;
}

Change Recorder::Defer(Message& m, queue::MsgId msg, const Entry& e, const Outcome& o, int64_t now_ms) const {
  int64_t now = now_ms / 1000;
  std::string logged = o.log_it ? StatusLine(msg, m, e, o.relay, o.dsn, "deferred", o.reason, now_ms) : "";
  if (now >= ExpiryOf(m)) {
    Change c = Fail(m, msg, e, o, true);
    if (!logged.empty()) c.info.insert(c.info.begin(), logged);
    return c;
  }
  Change c;
  if (!logged.empty()) c.info.push_back(logged);
  // A delay warning once the message is delay_warning_time old (once per message).
  if (s_.delay_warning > 0 && !(m.rec.flags & queue::kFlagDelayWarned) && now >= m.rec.arrival + s_.delay_warning)
    m.delayed.push_back({e.id, {e.address, e.orig, e.notify, "delayed", o.dsn, o.reason, o.relay}});
  uint32_t attempts = e.attempts + 1;
  c.then = Change::Then::kUpdate;
  c.update.state = queue::State::kDeferred;
  c.update.attempts = attempts;
  // Queue times are whole seconds: round up so that no retry comes early.
  c.update.next_attempt = (now_ms + 999) / 1000 + Backoff(attempts, s_.min_backoff, s_.max_backoff);
  c.update.last_attempt = now;
  c.update.last_error = o.reason.substr(0, queue::kMaxError);
  ++stats_.deferred;
  return c;
}

// Bounced, or expired: reported to the sender, the envelope kept until then.
Change Recorder::Fail(Message& m, queue::MsgId msg, const Entry& e, const Outcome& o, bool expired) const {
  Change c;
  m.failed.push_back({e.id, {e.address, e.orig, e.notify, "failed", o.dsn, o.reason, o.relay}});
  if (!expired) {
    ++stats_.bounced;
    return c;
  }
  ++stats_.expired;
  c.expired = true;
  if (!m.expired_logged) {
    m.expired_logged = true;
    c.info.push_back(fmt::format("{}: from=<{}>, status=expired, returned to sender", queue::FormatMsgId(msg),
                                 m.rec.sender));
  }
  c.verbose = fmt::format("{}: to=<{}> expired: {}", queue::FormatMsgId(msg), e.address, o.reason);
  return c;
}

}  // namespace postern::qmgr
