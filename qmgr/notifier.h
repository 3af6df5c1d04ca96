// qmgr/notifier.h — notices through the bounce service, as data: which notice a
// message in core owes next (non-delivery, then success, then delay), the request
// for it, and what bounce's answer does to the reported envelopes. No I/O but
// master.cf, read once to know which transports hand NOTIFY on.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "postern/config/maincf.h"
#include "postern/ipc/bounce.h"
#include "postern/queue/queue.h"
#include "qmgr/active.h"
#include "qmgr/settings.h"

namespace postern::qmgr {

struct Notice {
  queue::MsgId msg = 0;
  ipc::NoticeKind kind = ipc::NoticeKind::kFailed;
  std::vector<Report> reports;
  ipc::BounceRequest request;
};

// What an answer from bounce does.
struct Settlement {
  std::vector<queue::EnvId> remove;  // reported: their envelopes go
  std::vector<std::pair<queue::EnvId, queue::EnvelopeUpdate>> update;  // not reported: wait, retried later
  bool delay_warned = false;  // record kFlagDelayWarned on the message
  bool queued = false;        // a notice is new mail in the queue
};

class Notifier {
 public:
  explicit Notifier(const Settings& s) : s_(s) {}
  static const char* KindName(ipc::NoticeKind k);
  // The smtp client (master.cf command "smtp", not "lmtp") hands NOTIFY on to
  // a DSN-capable server, which then owes the sender the success notice.
  bool PassesDsnOn(const config::Config& cfg, const std::string& transport);
  // The next notice the message owes, its reports taken out of it; nullopt: none.
  std::optional<Notice> Next(queue::MsgId msg, Message& m) const;
  Settlement Settle(Message& m, const Notice& n, const ipc::BounceAnswer& a, int64_t now) const;

 private:
  const Settings& s_;
  std::map<std::string, std::string> commands_;  // master.cf unix service -> command
  bool commands_loaded_ = false;
};

}  // namespace postern::qmgr
