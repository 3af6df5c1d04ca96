// smtp/conn.cc — replies are matched to awaited commands in order; a failure
// fails every waiter, since nothing more can be trusted on that connection.
#include "smtp/conn.h"

#include <fmt/format.h>

#include "postern/log/log.h"

namespace postern::smtp_client {

Conn::Conn(uv_loop_t* loop, std::unique_ptr<event::Stream> stream, std::string host,
           std::string addr, uint16_t port, size_t line_limit)
    : stream_(std::make_unique<tls::Stream>(loop, std::move(stream))),
      timer_(loop),
      line_limit_(line_limit),
      parser_(line_limit),
      host_(std::move(host)),
      addr_(std::move(addr)),
      port_(port) {
  stream_->ReadStart([this](std::string_view d) { OnData(d); },
                     [this](int) { Fail(false); });
}

Conn::~Conn() { *alive_ = false; }

void Conn::Write(std::string data, std::function<void(int)> done) {
  if (Dialogue()) TraceOut(data);
  stream_->Write(std::move(data), std::move(done));
}

void Conn::WriteData(std::string data, std::function<void(int)> done) {
  stream_->Write(std::move(data), std::move(done));
}

void Conn::WriteSecret(std::string data, std::string_view shown) {
  if (Dialogue()) Chat(shown, true);
  stream_->Write(std::move(data));
}

bool Conn::Dialogue() const { return debug_ || log::Tracing("transfer"); }

void Conn::Chat(std::string_view line, bool out) const {
  if (debug_) log::Info("{} {}: {}", out ? ">" : "<", relay(), line);
  else log::Trace("transfer", "{} {}: {}", out ? ">" : "<", relay(), line);
}

void Conn::TraceOut(std::string_view data) const {
  while (!data.empty()) {
    size_t eol = data.find("\r\n");
    std::string_view line = data.substr(0, eol);
    Chat(line, true);
    if (eol == std::string_view::npos) break;
    data.remove_prefix(eol + 2);
  }
}

void Conn::StartTls(tls::Config cfg, std::function<void(Result<void>)> done) {
  if (size_t n = parser_.buffered(); n > 0)
    log::Info("{}: discarding {} bytes of plaintext received after the reply to STARTTLS", relay(), n);
  parser_ = smtp::ReplyParser(line_limit_);
  tls_cfg_ = std::move(cfg);
  timer_.Stop();  // the handshake has its own limit
  auto alive = alive_;
  stream_->StartTls(tls_cfg_, [this, alive, done = std::move(done)](Result<void> r) {
    if (!*alive) return;
    if (!r) broken_ = true;
    done(std::move(r));
  });
}

void Conn::Expect(std::string phase, uint64_t timeout_ms, ReplyFn fn) {
  if (broken_) {
    auto p = phase;
    return fn(Err("lost connection with " + peer() + " while " + p));
  }
  waiters_.push_back({std::move(phase), timeout_ms, std::move(fn)});
  if (waiters_.size() == 1) Arm();
}

void Conn::Arm() {
  timer_.Stop();
  if (waiters_.empty() || waiters_.front().timeout_ms == 0) return;
  timer_.Start(waiters_.front().timeout_ms, 0, [this] { Fail(true); });
}

void Conn::OnData(std::string_view data) {
  if (broken_) return;
  if (waiters_.empty()) {
    // A server that talks out of turn (or a cached connection's 421) is not to be trusted.
    broken_ = true;
    if (auto fn = std::move(on_idle_break_)) fn();
    return;
  }
  parser_.Feed(data);
  if (!per_record_deadline_) Arm();  // a limit per read, not per reply
  auto alive = alive_;
  while (!waiters_.empty()) {
    smtp::Reply r;
    auto st = parser_.Next(&r);
    if (st == smtp::ReplyParser::Status::kNeedMore) break;
    if (st == smtp::ReplyParser::Status::kError) {
      Waiter w = std::move(waiters_.front());
      waiters_.pop_front();
      broken_ = true;
      timer_.Stop();
      std::string why = "malformed reply from " + peer() + " while " + w.phase + ": " + parser_.error();
      w.fn(Err(why));
      if (!*alive) return;
      return Fail(false);
    }
    if (Dialogue()) {
      for (size_t i = 0; i < r.lines.size(); ++i)
        Chat(fmt::format("{}{}{}{}", r.code, i + 1 < r.lines.size() ? "-" : " ",
                         r.enhanced.empty() ? "" : r.enhanced + " ", r.lines[i]),
             false);
    }
    Waiter w = std::move(waiters_.front());
    waiters_.pop_front();
    Arm();
    if (r.code == 421) closing_ = true;  // RFC 5321 §3.8: the server closes after this
    w.fn(std::move(r));
    if (!*alive) return;
  }
  if (waiters_.empty() && parser_.buffered() > 0) broken_ = true;  // more replies than commands
}

void Conn::Fail(bool timeout) {
  if (broken_ && waiters_.empty()) return;
  bool was_idle = waiters_.empty();
  broken_ = true;
  timer_.Stop();
  auto alive = alive_;
  if (was_idle) {
    if (auto fn = std::move(on_idle_break_)) fn();
    return;
  }
  while (*alive && !waiters_.empty()) {
    Waiter w = std::move(waiters_.front());
    waiters_.pop_front();
    std::string why = timeout ? "conversation with " + peer() + " timed out while " + w.phase
                              : "lost connection with " + peer() + " while " + w.phase;
    w.fn(Err(why));
  }
}

}  // namespace postern::smtp_client
