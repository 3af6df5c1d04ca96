// qmgr/recorder.h — what one recipient's outcome does to its envelope, as data: sent →
// removed (or kept for a success notice), deferred → next attempt after backoff or,
// past the lifetime, expired; bounced and expired → reported, kept until the notice
// is queued (notifier.h). The queue change and the log lines are applied by the caller.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "postern/ipc/delivery.h"
#include "postern/queue/lifetime.h"
#include "postern/queue/queue.h"
#include "qmgr/active.h"
#include "qmgr/settings.h"

namespace postern::qmgr {

// Totals since start, for the log and the tests.
struct Stats {
  uint64_t sent = 0, deferred = 0, bounced = 0, expired = 0, requests = 0, crashes = 0;
};

struct Outcome {
  ipc::DeliveryStatus status = ipc::DeliveryStatus::kDeferred;
  std::string dsn, reason, relay = "none";
  bool log_it = false;  // qmgr's own verdict (the agent logs its own results)
  // Sent: NOTIFY=SUCCESS, and what becomes of it.
  bool relayed_without_dsn = false;
  bool dsn_passed_on = false;  // the server took NOTIFY on: it owes the notice
};

struct Change {
  enum class Then {
    kRemove,  // delivered: remove the envelope
    kUpdate,  // deferred: apply `update`
    kReport,  // kept for a notice: nothing to change now
  } then = Then::kReport;
  queue::EnvelopeUpdate update;
  std::vector<std::string> info;  // log lines, in order
  std::string verbose;            // a verbose-only line, or empty
  bool expired = false;
};

class Recorder {
 public:
  // Both are read at each call: `set option` may change the settings.
  Recorder(const Settings& s, Stats& stats) : s_(s), stats_(stats) {}
  // `now_ms`: the wall clock in milliseconds.
  Change Record(Message& m, queue::MsgId msg, const Entry& e, const Outcome& o, int64_t now_ms) const;
  int64_t ExpiryOf(const Message& m) const { return s_.lifetimes.ExpiryOf(m.rec); }
  // Postfix's status line: "ID: to=<a>, relay=R, delay=D, delays=D/0/0/0, dsn=X, status=S (why)".
  static std::string StatusLine(queue::MsgId msg, const Message& m, const Entry& e, const std::string& relay,
                                const std::string& dsn, const std::string& status, const std::string& reason,
                                int64_t now_ms);

 private:
  Change Sent(Message& m, const Entry& e, const Outcome& o) const;
  Change Defer(Message& m, queue::MsgId msg, const Entry& e, const Outcome& o, int64_t now_ms) const;
  Change Fail(Message& m, queue::MsgId msg, const Entry& e, const Outcome& o, bool expired) const;

  const Settings& s_;
  Stats& stats_;
};

}  // namespace postern::qmgr
