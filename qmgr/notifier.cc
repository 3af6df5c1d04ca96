// qmgr/notifier.cc — choosing a message's next notice and settling bounce's answer
// (see notifier.h). Nothing is lost on a failed answer: the recipients wait in the
// queue (deferred) and are reported on a later attempt.
#include "qmgr/notifier.h"

#include <algorithm>

#include "postern/config/mastercf.h"
#include "postern/log/log.h"

namespace postern::qmgr {

const char* Notifier::KindName(ipc::NoticeKind k) {
  switch (k) {
    case ipc::NoticeKind::kFailed: return "non-delivery";
    case ipc::NoticeKind::kDelayed: return "delay";
    case ipc::NoticeKind::kSuccess: return "delivery status";
  }
  return "?";
}

bool Notifier::PassesDsnOn(const config::Config& cfg, const std::string& transport) {
  if (!commands_loaded_) {
    commands_loaded_ = true;
    if (auto services = config::LoadMasterCf(cfg.config_dir())) {
      for (const auto& s : *services) {
        if (s.type != "unix") continue;
        commands_[s.service] = s.command.substr(s.command.rfind('/') + 1);
      }
    } else {
      log::Warning("master.cf: {}", services.error());
    }
  }
  auto it = commands_.find(transport);
  return it != commands_.end() && it->second == "smtp";
}

std::optional<Notice> Notifier::Next(queue::MsgId msg, Message& m) const {
  Notice n;
  n.msg = msg;
  std::vector<Report>* list;
  if (!m.failed.empty()) {
    n.kind = ipc::NoticeKind::kFailed, list = &m.failed;
  } else if (!m.succeeded.empty()) {
    n.kind = ipc::NoticeKind::kSuccess, list = &m.succeeded;
  } else if (!m.delayed.empty()) {
    n.kind = ipc::NoticeKind::kDelayed, list = &m.delayed;
  } else {
    return std::nullopt;
  }
  n.reports = std::move(*list);
  list->clear();
  n.request.message_id = msg;
  n.request.kind = n.kind;
  for (const Report& r : n.reports) n.request.recipients.push_back(r.rcpt);
  return n;
}

Settlement Notifier::Settle(Message& m, const Notice& n, const ipc::BounceAnswer& a, int64_t now) const {
  Settlement out;
  out.queued = a.notice_id != 0;
  switch (n.kind) {
    case ipc::NoticeKind::kFailed:
      for (const Report& r : n.reports) {
        if (a.ok) {
          out.remove.push_back(r.id);
          continue;
        }
        queue::EnvelopeUpdate u;
        u.state = queue::State::kDeferred;
        u.next_attempt = now + std::max<int64_t>(1, s_.min_backoff);
        u.last_error = r.rcpt.diagnostic.substr(0, queue::kMaxError);
        out.update.emplace_back(r.id, std::move(u));
      }
      break;
    case ipc::NoticeKind::kSuccess:
      // Delivered already: a lost success notice is not worth a second delivery.
      for (const Report& r : n.reports) out.remove.push_back(r.id);
      break;
    case ipc::NoticeKind::kDelayed:
      if (a.ok) {
        m.rec.flags |= queue::kFlagDelayWarned;
        out.delay_warned = true;
      }
      break;
  }
  return out;
}

}  // namespace postern::qmgr
