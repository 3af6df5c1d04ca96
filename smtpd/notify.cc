// smtpd/notify.cc — Postfix's smtpd_chat history and postmaster notices: each
// session keeps a transcript ("In:  command", "Out: reply") and the classes of
// its errors; at the end of the session (or at EHLO, RSET and end of DATA once
// it is longer than smtpd_history_flush_threshold) a session with errors of a
// class in notify_classes mails the transcript to error_notice_recipient.
#include "smtpd/notify.h"

#include <ctime>

#include "postern/log/limited.h"
#include "postern/log/log.h"
#include "smtpd/session.h"

namespace postern::smtpd {

// --- Service ----------------------------------------------------------------

void Service::NotifyPostmaster(const std::string& peer, const std::string& transcript, const std::string& reason) {
  const Settings& st = settings_;
  if (!notice_limit_.Allow(std::time(nullptr))) {
    static log::LimitedWarning warning{std::chrono::seconds(kNoticeWindowSeconds)};
    warning.Warn("postmaster notify: {} notices in {}s already; none about errors from {}", kNoticeBurst,
                 kNoticeWindowSeconds, peer);
    return;
  }
  cleanup::Submission sub;
  sub.record.sender = st.double_bounce;  // a failed notice is discarded, never answered
  sub.record.protocol = "local";
  sub.record.client_name = "localhost";
  sub.record.client_addr = "127.0.0.1";
  auto m = cleanup_->Begin(std::move(sub));
  if (!m.ok()) return log::Warning("postmaster notify: {}", m.status().message);
  std::string id = queue::FormatMsgId((*m)->id());
  notify::TranscriptNotice n;
  n.mail_name = st.mail_name;
  n.peer = peer;
  n.from = "MAILER-DAEMON@" + st.myorigin;
  n.to = st.error_rcpt;
  n.now = std::time(nullptr);
  char stamp[32];
  time_t now = n.now;
  struct tm tm {};
  gmtime_r(&now, &tm);
  strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &tm);
  n.message_id = std::string(stamp) + "." + id + "@" + st.myhostname;
  n.transcript = transcript;
  n.reason = reason;
  queue::Status s = (*m)->AddRecipient({st.error_rcpt, "", 0});
  if (s.ok()) s = (*m)->Append(notify::ComposeTranscriptNotice(n));
  if (s.ok()) s = (*m)->Finish();
  if (!s.ok()) return log::Warning("postmaster notify: {}", s.message);
  // A retiring worker stays until the notice is durable.
  auto hold = hold_ ? std::make_shared<server::Lease>(hold_()) : nullptr;
  cleanup_->Submit(std::move(*m), [id, peer, rcpt = st.error_rcpt, hold](queue::Outcome<queue::MsgId> r) {
    if (!r.ok()) return log::Warning("postmaster notify: {}", r.status().message);
    log::Info("{}: postmaster notice to <{}> about errors from {}", id, rcpt, peer);
  });
}

// --- Session ----------------------------------------------------------------

bool Session::Chatting() const { return (svc_->settings().notify_classes & kSmtpdClasses) != 0; }

// Replies are recorded from what was appended to out_ since the last call,
// so every reply (greeting, EHLO lines, 334 challenges) lands in order.
void Session::ChatOut() {
  if (chat_out_mark_ < out_.size() && Chatting())
    chat_.AddReplies(std::string_view(out_).substr(chat_out_mark_));
  chat_out_mark_ = out_.size();
}

void Session::ChatIn(std::string_view line) {
  ChatOut();
  if (Chatting()) chat_.Add("In:  ", line);
}

// Credentials stay out of mail: AUTH keeps its mechanism only (SASL
// responses are recorded as such by the caller).
void Session::ChatAuthIn(std::string_view line, std::string_view arg) {
  size_t sp = arg.find(' ');
  if (sp == std::string_view::npos || line.size() < arg.size()) return ChatIn(line);
  ChatIn(std::string(line.substr(0, line.size() - arg.size())) + std::string(arg.substr(0, sp)) +
         " (initial response)");
}

void Session::ChatReset(size_t threshold) {
  ChatOut();
  if (chat_.lines() <= threshold) return;
  if (error_mask_ & svc_->settings().notify_classes) svc_->NotifyPostmaster(Who(), chat_.Text(), reason_);
  error_mask_ = 0;
  chat_.Clear();
}

}  // namespace postern::smtpd
