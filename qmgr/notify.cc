// qmgr/notify.cc — sending the notifier's notices (notifier.h) to the bounce service
// and applying its answer: reported envelopes removed (the one removal path), or
// deferred to be reported again when bounce did not queue the notice.
#include <ctime>

#include "postern/log/log.h"
#include "postern/stats/recorder.h"
#include "qmgr/manager.h"

namespace postern::qmgr {

bool Manager::Notify(queue::MsgId msg) {
  Message* m = active_.Find(msg);
  if (!m) return false;
  if (m->notifying) return true;
  std::optional<Notice> n = notifier_.Next(msg, *m);
  if (!n) return false;
  m->notifying = true;
  log::Trace("bounce", "{}: asking the bounce service for a {} notice about {} recipient(s)",
             queue::FormatMsgId(msg), Notifier::KindName(n->kind), n->request.recipients.size());
  auto notice = std::make_shared<Notice>(std::move(*n));
  notices_[msg] = calls_.Notify(notice->request,
                                [this, notice](const ipc::BounceAnswer& a) { OnNotified(*notice, a); });
  return true;
}

void Manager::OnNotified(const Notice& n, const ipc::BounceAnswer& a) {
  queue::MsgId msg = n.msg;
  // The call ends on a later loop turn: we are inside its callback now.
  if (auto c = notices_.find(msg); c != notices_.end()) {
    finished_calls_.push_back(std::move(c->second));
    notices_.erase(c);
    ReapSoon();
    MaybeDrained();
  }
  Message* m = active_.Find(msg);
  if (!m) return;
  m->notifying = false;
  const std::string id = queue::FormatMsgId(msg);
  log::Trace("bounce", "{}: bounce service answered for the {} notice: {}{}{}", id, Notifier::KindName(n.kind),
             a.ok ? "ok" : "failed", a.notice_id ? ", queued as " + queue::FormatMsgId(a.notice_id) : "",
             a.text.empty() ? "" : " (" + a.text + ")");
  if (a.ok && a.notice_id != 0) {
    // smtpctl's bounce counters: notices queued, and the recipients they report.
    stats::Count("bounce.message");
    stats::Count("bounce.envelope", n.reports.size());
  }
  if (!a.ok) log::Warning("{}: {} notification not sent, bounce service: {}", id, Notifier::KindName(n.kind), a.text);
  Settlement s = notifier_.Settle(*m, n, a, std::time(nullptr));
  for (queue::EnvId e : s.remove) RemoveSoon(e, false);
  for (const auto& [e, u] : s.update) Update(e, u);
  if (s.delay_warned)
    if (auto st = store_.SetMessageFlags(msg, queue::kFlagDelayWarned); !st.ok())
      log::Warning("{}: cannot record the delay warning: {}", id, st.message);
  if (s.queued) ScanSoon();  // the notice is new mail
  Settle(msg);
}

}  // namespace postern::qmgr
