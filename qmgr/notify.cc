// qmgr/notify.cc — asking the bounce service for notices. A message's
// bounced, expired, NOTIFY=SUCCESS and delay-warned recipients are collected
// while it is in core; once none of its envelopes is still being delivered,
// one request per kind goes to bounce, and only after bounce answers that
// the notice is queued are the reported envelopes removed. Without an answer
// they wait in the queue (deferred) and are reported on a later attempt.
#include "qmgr/notify.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "config/mastercf.h"
#include "log/log.h"
#include "qmgr/manager.h"
#include "stats/recorder.h"

namespace postern::qmgr {

namespace {

// How long bounce may take to queue a notice (it reads the original and syncs).
constexpr uint64_t kBounceTimeoutMs = 60'000;

const char* KindName(ipc::NoticeKind k) {
  switch (k) {
    case ipc::NoticeKind::kFailed: return "non-delivery";
    case ipc::NoticeKind::kDelayed: return "delay";
    case ipc::NoticeKind::kSuccess: return "delivery status";
  }
  return "?";
}

}  // namespace

// --- the client ------------------------------------------------------------

std::unique_ptr<BounceCall> BounceCall::Start(uv_loop_t* loop, const std::string& path,
                                              const ipc::BounceRequest& req, uint64_t timeout_ms,
                                              OnAnswer on_answer) {
  std::unique_ptr<BounceCall> call(new BounceCall(loop));
  call->on_answer_ = std::move(on_answer);
  BounceCall* self = call.get();
  auto fail_soon = [self](std::string why) {
    // Never answer from inside Start: the caller has not stored the call yet.
    self->timer_.Start(0, 0, [self, why] { self->Finish({false, 0, why}); });
  };
  sockaddr_un sun{};
  if (path.size() >= sizeof sun.sun_path) {
    fail_soon("socket path too long: " + path);
    return call;
  }
  event::Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    fail_soon(std::string("socket: ") + std::strerror(errno));
    return call;
  }
  sun.sun_family = AF_UNIX;
  std::memcpy(sun.sun_path, path.data(), path.size());
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0) {
    fail_soon("connect to " + path + ": " + std::strerror(errno));
    return call;
  }
  auto stream = event::Stream::Adopt(loop, fd.Release());
  if (!stream) {
    fail_soon(stream.error());
    return call;
  }
  call->stream_ = std::move(*stream);
  call->stream_->ReadStart([self](std::string_view d) { self->OnData(d); },
                           [self](int status) {
                             self->Finish({false, 0,
                                           status == UV_EOF ? "bounce service closed the connection"
                                                            : std::string("read: ") + uv_strerror(status)});
                           });
  call->stream_->Write(ipc::Frame(ipc::EncodeBounceRequest(req)), [self](int status) {
    if (status < 0) self->Finish({false, 0, std::string("write: ") + uv_strerror(status)});
  });
  call->timer_.Start(timeout_ms, 0, [self] { self->Finish({false, 0, "bounce service timed out"}); });
  return call;
}

void BounceCall::OnData(std::string_view data) {
  if (ended_) return;
  reader_.Feed(data);
  std::string payload;
  auto st = reader_.Next(&payload);
  if (st == ipc::FrameReader::Status::kNeedMore) return;
  auto a = st == ipc::FrameReader::Status::kFrame ? ipc::DecodeBounceAnswer(payload) : std::nullopt;
  if (!a) return Finish({false, 0, "malformed answer from the bounce service"});
  Finish(*a);
}

void BounceCall::Finish(ipc::BounceAnswer a) {
  if (ended_) return;
  ended_ = true;
  timer_.Stop();
  if (stream_) stream_->ReadStop();
  // The owner may destroy us from on_answer: nothing of ours is touched after it.
  OnAnswer done = std::move(on_answer_);
  done(a);
}

// --- the manager's side ------------------------------------------------------

int64_t Manager::DelayWarning() {
  if (delay_warning_ < 0) {
    auto t = cfg_.GetTime("delay_warning_time");
    if (!t) log::Warning("delay_warning_time: {}; no delay warnings", t.error());
    delay_warning_ = t ? static_cast<int64_t>(t->count()) : 0;
  }
  return delay_warning_;
}

// The smtp client (master.cf command "smtp", not "lmtp") hands NOTIFY on to
// a DSN-capable server, which then owes the sender the success notice.
bool Manager::PassesDsnOn(const std::string& transport) {
  if (!commands_loaded_) {
    commands_loaded_ = true;
    if (auto services = config::LoadMasterCf(cfg_.config_dir())) {
      for (const auto& s : *services) {
        if (s.type != "unix") continue;
        std::string cmd = s.command.substr(s.command.rfind('/') + 1);
        commands_[s.service] = cmd;
      }
    } else {
      log::Warning("master.cf: {}", services.error());
    }
  }
  auto it = commands_.find(transport);
  return it != commands_.end() && it->second == "smtp";
}

void Manager::NoteDelay(Message& m, const Entry& e, const std::string& dsn, const std::string& reason,
                        const std::string& relay) {
  int64_t warn = DelayWarning();
  if (warn <= 0 || (m.rec.flags & queue::kFlagDelayWarned)) return;
  if (std::time(nullptr) < m.rec.arrival + warn) return;
  m.delayed.push_back({e.id, {e.address, e.orig, e.notify, "delayed", dsn, reason, relay}});
}

bool Manager::NoteSuccess(Message& m, const Entry& e, const ipc::DeliveryResult& r, const std::string& transport) {
  if (!(e.notify & queue::kNotifySuccess) || m.rec.sender.empty()) return false;
  if (!r.relayed_without_dsn && PassesDsnOn(transport)) return false;
  m.succeeded.push_back(
      {e.id, {e.address, e.orig, e.notify, r.relayed_without_dsn ? "relayed" : "delivered", r.dsn, r.reason, r.relay}});
  return true;
}

bool Manager::Notify(queue::MsgId msg) {
  auto it = messages_.find(msg);
  if (it == messages_.end()) return false;
  Message& m = it->second;
  if (m.notifying) return true;
  ipc::NoticeKind kind;
  std::vector<Report>* list;
  if (!m.failed.empty()) {
    kind = ipc::NoticeKind::kFailed, list = &m.failed;
  } else if (!m.succeeded.empty()) {
    kind = ipc::NoticeKind::kSuccess, list = &m.succeeded;
  } else if (!m.delayed.empty()) {
    kind = ipc::NoticeKind::kDelayed, list = &m.delayed;
  } else {
    return false;
  }
  std::vector<Report> reports = std::move(*list);
  list->clear();
  ipc::BounceRequest req;
  req.message_id = msg;
  req.kind = kind;
  for (const Report& r : reports) req.recipients.push_back(r.rcpt);
  m.notifying = true;
  log::Trace("bounce", "{}: asking the bounce service for a {} notice about {} recipient(s)",
             queue::FormatMsgId(msg), KindName(kind), req.recipients.size());
  notices_[msg] = BounceCall::Start(
      loop_, s_.queue_directory + "/private/bounce", req, kBounceTimeoutMs,
      [this, msg, kind, reports = std::move(reports)](const ipc::BounceAnswer& a) { OnNotified(msg, kind, reports, a); });
  return true;
}

void Manager::OnNotified(queue::MsgId msg, ipc::NoticeKind kind, const std::vector<Report>& reports,
                         const ipc::BounceAnswer& a) {
  // The call ends on a later loop turn: we are inside its callback now.
  if (auto c = notices_.find(msg); c != notices_.end()) {
    finished_notices_.push_back(std::move(c->second));
    notices_.erase(c);
    if (!notice_reaper_) notice_reaper_ = std::make_unique<event::Timer>(loop_);
    if (!notice_reaper_->active()) notice_reaper_->Start(0, 0, [this] { finished_notices_.clear(); });
    MaybeDrained();
  }
  auto it = messages_.find(msg);
  if (it == messages_.end()) return;
  Message& m = it->second;
  m.notifying = false;
  const std::string id = queue::FormatMsgId(msg);
  log::Trace("bounce", "{}: bounce service answered for the {} notice: {}{}{}", id, KindName(kind),
             a.ok ? "ok" : "failed", a.notice_id ? ", queued as " + queue::FormatMsgId(a.notice_id) : "",
             a.text.empty() ? "" : " (" + a.text + ")");
  if (a.ok && a.notice_id != 0) {
    // smtpctl's bounce counters: notices queued, and the recipients they report.
    stats::Count("bounce.message");
    stats::Count("bounce.envelope", reports.size());
  }
  if (!a.ok) {
    log::Warning("{}: {} notification not sent, bounce service: {}", id, KindName(kind), a.text);
  }
  switch (kind) {
    case ipc::NoticeKind::kFailed:
      for (const Report& r : reports) {
        if (a.ok) {
          if (auto st = q_->Remove(r.id); !st.ok() && st.code != queue::Code::kNotFound) RetryRemoval(r.id, st);
          continue;
        }
        // Nothing is lost: the recipient waits and is reported on a later attempt.
        queue::EnvelopeUpdate u;
        u.state = queue::State::kDeferred;
        u.next_attempt = std::time(nullptr) + std::max<int64_t>(1, s_.min_backoff);
        u.last_error = r.rcpt.diagnostic.substr(0, queue::kMaxError);
        if (auto st = q_->Update(r.id, u); !st.ok()) RetryUpdate(r.id, u, st);
      }
      break;
    case ipc::NoticeKind::kSuccess:
      // Delivered already: a lost success notice is not worth a second delivery.
      for (const Report& r : reports) {
        if (auto st = q_->Remove(r.id); !st.ok() && st.code != queue::Code::kNotFound) RetryRemoval(r.id, st);
      }
      break;
    case ipc::NoticeKind::kDelayed:
      if (a.ok) {
        m.rec.flags |= queue::kFlagDelayWarned;
        if (auto st = q_->SetMessageFlags(msg, queue::kFlagDelayWarned); !st.ok())
          log::Warning("{}: cannot record the delay warning: {}", id, st.message);
      }
      break;
  }
  if (a.notice_id != 0) ScanSoon();  // the notice is new mail
  if (m.in_core == 0 && !Notify(msg)) Forget(msg);
}

void Manager::Forget(queue::MsgId msg) {
  auto it = messages_.find(msg);
  if (it == messages_.end()) return;
  auto rec = q_->GetMessage(msg);
  if (!rec.ok() && rec.code() == queue::Code::kNotFound) log::Info("{}: removed", queue::FormatMsgId(msg));
  messages_.erase(it);
  // A scan stopped by the active-set bounds goes on once there is room.
  if (full_ && !Full()) ScanSoon();
}

}  // namespace postern::qmgr
