// smtpd/dovecot_client.cc — connect, handshake, request multiplexing and
// failure handling of the Dovecot auth client; see dovecot_client.h.
#include "smtpd/dovecot_client.h"

#include <unistd.h>

#include "postern/log/log.h"
#include "postern/util/strings.h"
#include "smtpd/policy_client.h"

namespace postern::smtpd::dovecot {

namespace {

// Postfix's AUTH_TIMEOUT: connect, handshake and each reply.
constexpr uint64_t kTimeoutMs = 10000;
constexpr auto kRetryAfter = std::chrono::seconds(1);
constexpr size_t kMaxLine = 16384;

}  // namespace

Client::Client(uv_loop_t* loop, std::string endpoint)
    : loop_(loop), endpoint_(std::move(endpoint)), connector_(loop), lines_(kMaxLine), timer_(loop), kick_(loop) {}

void Client::Connect() {
  if (state_ != State::kDown) return;
  auto now = std::chrono::steady_clock::now();
  if (last_try_ != std::chrono::steady_clock::time_point{} && now - last_try_ < kRetryAfter) return;
  last_try_ = now;
  state_ = State::kConnecting;
  handshake_ = Handshake();
  lines_ = event::LineBuffer(kMaxLine);
  auto done = [this](Result<std::unique_ptr<event::Stream>> s) {
    if (!s) return Fail("connect to " + endpoint_ + ": " + s.error());
    OnConnected(std::move(*s));
  };
  timer_.Start(kTimeoutMs, 0, [this] { Fail("timeout waiting for the handshake of " + endpoint_); });
  if (!StartsWith(endpoint_, "inet:")) return connector_.Unix(endpoint_, kTimeoutMs, std::move(done));
  auto t = net::ResolveHostPort(std::string_view(endpoint_).substr(5));
  if (!t) return Fail(t.error());
  connector_.Tcp(t->first, t->second, nullptr, kTimeoutMs, std::move(done));
}

void Client::OnConnected(std::unique_ptr<event::Stream> s) {
  conn_ = std::move(s);
  conn_->ReadStart([this](std::string_view d) { OnData(d); },
                   [this](int status) { Fail(status == UV_EOF ? "lost connection" : uv_strerror(status)); });
  conn_->Write(ClientHello(long(getpid())));
}

void Client::OnData(std::string_view data) {
  lines_.Feed(data);
  std::string line;
  bool truncated = false;
  while (conn_ && lines_.Next(&line, &truncated)) {
    if (truncated) return Fail("line too long from " + endpoint_);
    OnLine(line);
  }
}

void Client::OnLine(const std::string& line) {
  if (state_ == State::kConnecting) {
    switch (handshake_.Feed(line)) {
      case Handshake::State::kMore: return;
      case Handshake::State::kBad: return Fail(handshake_.error());
      case Handshake::State::kDone:
        state_ = State::kReady;
        timer_.Stop();
        mechs_ = handshake_.mechanisms();
        return Settle();
    }
  }
  auto r = ParseReply(line);
  if (!r) return;  // other server lines (Dovecot may add some): not ours
  auto it = pending_.find(r->id);
  if (it == pending_.end()) return;  // a session that went away
  Answer a;
  a.data = std::move(r->data);
  a.user = std::move(r->user);
  a.reason = std::move(r->reason);
  Done done = it->second.done;
  if (r->kind == Reply::Kind::kCont) {
    a.kind = Answer::Kind::kCont;
    it->second.awaiting = false;
  } else {
    a.kind = r->kind == Reply::Kind::kOk ? Answer::Kind::kOk : r->temp ? Answer::Kind::kTempFail : Answer::Kind::kFail;
    pending_.erase(it);
  }
  bool awaiting = false;
  for (const auto& [id, p] : pending_) awaiting |= p.awaiting;
  if (!awaiting) timer_.Stop();
  done(std::move(a));
}

void Client::Settle() {
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& w : waiters) w();
}

void Client::Fail(const std::string& why) {
  bool was_ready = state_ == State::kReady;
  log::Warning("SASL: {}{}", why, was_ready ? "" : "; AUTH answers 454 4.7.0 until Dovecot's auth server is back");
  connector_.Cancel();
  conn_.reset();
  timer_.Stop();
  state_ = State::kDown;
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [id, p] : pending) p.done(Answer{Answer::Kind::kTempFail, "", "", ""});
  Settle();
}

void Client::WhenSettled(std::function<void()> cb) {
  Connect();
  if (state_ != State::kConnecting) return cb();
  waiters_.push_back(std::move(cb));
}

unsigned Client::Start(AuthRequest r, Done done) {
  r.id = ++next_id_ ? next_id_ : ++next_id_;
  unsigned id = r.id;
  pending_[id] = Pending{std::move(done), false};
  if (state_ != State::kReady) {
    FailLater(id);
    return id;
  }
  Send(id, EncodeAuth(r));
  return id;
}

void Client::Continue(unsigned id, std::string_view response) {
  if (!pending_.count(id)) return;
  if (state_ != State::kReady) return FailLater(id);
  Send(id, EncodeCont(id, response));
}

void Client::FailLater(unsigned id) {
  doomed_.push_back(id);
  kick_.Start(0, 0, [this] {
    auto ids = std::move(doomed_);
    doomed_.clear();
    for (unsigned i : ids) {
      auto it = pending_.find(i);
      if (it == pending_.end()) continue;
      Done d = std::move(it->second.done);
      pending_.erase(it);
      d(Answer{Answer::Kind::kTempFail, "", "", ""});
    }
  });
}

void Client::Send(unsigned id, std::string text) {
  pending_[id].awaiting = true;
  conn_->Write(std::move(text));
  timer_.Start(kTimeoutMs, 0, [this] { Fail("timeout waiting for a reply from " + endpoint_); });
}

}  // namespace postern::smtpd::dovecot
