// tls/stream.cc — GnuTLS over memory buffers: ciphertext read from the uv
// stream is queued for GnuTLS's pull function, and what its push function
// produces is written to the uv stream in one write per call; see stream.h.
#include "postern/tls/stream.h"

#include <array>
#include <cerrno>

#include "postern/log/log.h"

namespace postern::tls {

namespace {
constexpr size_t kRecord = 16 * 1024;          // largest TLS plaintext record
constexpr size_t kDeliverBatch = 64 * 1024;    // plaintext handed to the reader at once
constexpr size_t kKeepCapacity = 4096;         // idle buffers above this are given back

void Shrink(std::string* s) {
  if (s->empty() && s->capacity() > kKeepCapacity) std::string().swap(*s);
}
}  // namespace

Result<void> Session::Init(unsigned flags) {
  Reset();
  if (int rc = gnutls_init(&s_, flags); rc < 0) {
    s_ = nullptr;
    return Err(gnutls_strerror(rc));
  }
  return {};
}

void Session::Reset() {
  if (s_) gnutls_deinit(s_);
  s_ = nullptr;
}

Stream::Stream(uv_loop_t* loop, std::unique_ptr<event::Stream> raw)
    : loop_(loop), raw_(std::move(raw)), timer_(loop) {}

Stream::~Stream() { *alive_ = false; }

void Stream::ReadStart(ReadFn on_data, EndFn on_end) {
  user_reading_ = true;
  if (!session_) {
    // Plain text goes straight through; the callbacks are kept for StartTls.
    on_data_ = on_data;
    on_end_ = on_end;
    return raw_->ReadStart(std::move(on_data), std::move(on_end));
  }
  on_data_ = std::move(on_data);
  on_end_ = std::move(on_end);
  RawReadUpdate();
  if (established_) ScheduleDrain();  // records read before a pause, possibly still encrypted
}

void Stream::ReadStop() {
  user_reading_ = false;
  if (!session_) return raw_->ReadStop();
  RawReadUpdate();
}

void Stream::RawReadUpdate() {
  if (ended_) return;
  if (user_reading_ || handshaking_) {
    raw_->ReadStart([this](std::string_view d) { OnCipher(d); }, [this](int st) { OnRawEnd(st); });
  } else {
    raw_->ReadStop();
  }
}

void Stream::Write(std::string data, std::function<void(int)> done, bool last) {
  if (!established_) {
    // Plain text (before STARTTLS, or a reply racing a failed handshake).
    return raw_->Write(std::move(data), std::move(done));
  }
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = gnutls_record_send(session_.get(), data.data() + off, std::min(kRecord, data.size() - off));
    if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) continue;  // push never blocks: not expected
    if (n < 0) {
      log::Warning("TLS write to {}: {}", raw_->PeerName(), gnutls_strerror(int(n)));
      if (done) done(UV_EPROTO);
      return;
    }
    off += size_t(n);
  }
  if (last) gnutls_bye(session_.get(), GNUTLS_SHUT_WR);
  FlushOut(std::move(done));
}

void Stream::FlushOut(std::function<void(int)> done) {
  if (out_.empty()) {
    if (done) done(0);
    return;
  }
  raw_->Write(std::move(out_), std::move(done));
  out_.clear();
  Shrink(&out_);
}

ssize_t Stream::Push(gnutls_transport_ptr_t p, const void* data, size_t len) {
  static_cast<Stream*>(p)->out_.append(static_cast<const char*>(data), len);
  return ssize_t(len);
}

ssize_t Stream::Pull(gnutls_transport_ptr_t p, void* data, size_t len) {
  auto* self = static_cast<Stream*>(p);
  size_t avail = self->in_.size() - self->in_pos_;
  if (avail == 0) {
    if (self->ended_) return 0;
    gnutls_transport_set_errno(self->session_.get(), EAGAIN);
    return -1;
  }
  size_t n = std::min(avail, len);
  memcpy(data, self->in_.data() + self->in_pos_, n);
  self->in_pos_ += n;
  if (self->in_pos_ == self->in_.size()) {
    self->in_.clear();
    self->in_pos_ = 0;
  }
  return ssize_t(n);
}

int Stream::PullTimeout(gnutls_transport_ptr_t p, unsigned int) {
  auto* self = static_cast<Stream*>(p);
  return self->in_pos_ < self->in_.size() || self->ended_ ? 1 : 0;
}

void Stream::StartTls(const Config& cfg, HandshakeFn done) {
  cfg_ = &cfg;
  on_handshake_ = std::move(done);
  // A client without a session cache asks for no tickets: it could not resume.
  unsigned flags = cfg.role == Role::kServer ? GNUTLS_SERVER
                   : cfg.client_tickets      ? GNUTLS_CLIENT
                                             : GNUTLS_CLIENT | GNUTLS_NO_TICKETS;
  flags |= GNUTLS_NONBLOCK;
  auto fail = [this](std::string why) {
    auto fn = std::move(on_handshake_);
    fn(Err(std::move(why)));
  };
  if (auto r = session_.Init(flags); !r) return fail("TLS session: " + r.error());
  gnutls_session_t s = session_.get();
  if (int rc = gnutls_priority_set(s, cfg.priority->get()); rc < 0) return fail(gnutls_strerror(rc));
  if (int rc = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cfg.creds->get()); rc < 0)
    return fail(gnutls_strerror(rc));
  if (cfg.role == Role::kServer) {
    gnutls_certificate_server_set_request(s, GNUTLS_CERT_IGNORE);
    if (cfg.ticket_key) {
      gnutls_session_ticket_enable_server(s, cfg.ticket_key->get());
      gnutls_db_set_cache_expiration(s, unsigned(cfg.ticket_lifetime_s));
    }
  } else {
    if (!cfg.server_name.empty())
      gnutls_server_name_set(s, GNUTLS_NAME_DNS, cfg.server_name.data(), cfg.server_name.size());
    // A stale or foreign session is no error: the handshake is then a full one.
    if (!cfg.resume.empty()) gnutls_session_set_data(s, cfg.resume.data(), cfg.resume.size());
  }
  gnutls_transport_set_ptr(s, this);
  gnutls_transport_set_push_function(s, Push);
  gnutls_transport_set_pull_function(s, Pull);
  // Without this GnuTLS polls the transport pointer as if it were a socket.
  gnutls_transport_set_pull_timeout_function(s, PullTimeout);
  handshaking_ = true;
  // Whatever the peer sent before this moment was plain text, and has been
  // consumed by the caller; from here on every byte is TLS.
  in_.clear();
  in_pos_ = 0;
  timer_.Start(cfg.handshake_timeout_ms, 0, [this] { HandshakeDone(Err("TLS handshake timed out")); });
  RawReadUpdate();
  Handshake();
}

void Stream::Handshake() {
  for (;;) {
    int rc = gnutls_handshake(session_.get());
    FlushOut();
    if (rc == 0) return HandshakeDone({});
    if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
      if (ended_) return HandshakeDone(Err("lost connection during TLS handshake"));
      return;  // more input needed
    }
    if (!gnutls_error_is_fatal(rc)) continue;  // a warning alert: carry on
    std::string why = gnutls_strerror(rc);
    if (rc == GNUTLS_E_FATAL_ALERT_RECEIVED) {
      why += std::string(": ") + gnutls_alert_get_name(gnutls_alert_get(session_.get()));
    } else {
      SendAlertFor(rc);
    }
    return HandshakeDone(Err(why));
  }
}

// The peer learns why the handshake failed (protocol_version,
// handshake_failure, RFC 7507's inappropriate_fallback...) instead of a bare
// close. GnuTLS knows no alert for some errors; then nothing is sent.
void Stream::SendAlertFor(int error) {
  int rc = gnutls_alert_send_appropriate(session_.get(), error);
  if (rc < 0 && rc != GNUTLS_E_INVALID_REQUEST && cfg_ && cfg_->loglevel >= 2)
    log::Info("TLS alert to {}: {}", raw_->PeerName(), gnutls_strerror(rc));
  FlushOut();
}

void Stream::HandshakeDone(Result<void> r) {
  if (!handshaking_) return;
  handshaking_ = false;
  timer_.Stop();
  if (r) {
    established_ = true;
    info_ = SessionInfo(session_.get());
  } else {
    ended_ = true;  // nothing sensible can be read after a failed handshake
    raw_->ReadStop();
  }
  RawReadUpdate();
  auto alive = alive_;
  auto fn = std::move(on_handshake_);
  if (fn) fn(std::move(r));
  // The peer may have sent data in the same packet as its Finished, and
  // GnuTLS may hold it still encrypted: look anyway.
  if (*alive && established_ && user_reading_) ScheduleDrain();
}

void Stream::ScheduleDrain() {
  if (timer_.active()) return;
  timer_.Start(0, 0, [this] { Drain(); });
}

void Stream::OnCipher(std::string_view data) {
  if (ended_) return;
  in_.append(data);
  if (handshaking_) return Handshake();
  if (established_) Drain();
}

void Stream::OnRawEnd(int status) {
  ended_ = true;
  if (handshaking_) return HandshakeDone(Err("lost connection during TLS handshake"));
  // Records already received are still delivered, then the end.
  if (established_ && user_reading_) Drain();
  else if (auto fn = std::move(on_end_)) fn(status);
}

void Stream::Drain() {
  if (!established_) return;
  auto alive = alive_;
  static thread_local std::array<char, kDeliverBatch + kRecord> buf;
  while (user_reading_) {
    size_t got = 0;
    int end = 0;
    while (got + kRecord <= buf.size()) {
      size_t buffered = in_.size() - in_pos_;
      ssize_t n = gnutls_record_recv(session_.get(), buf.data() + got, buf.size() - got);
      if (n > 0) {
        got += size_t(n);
        continue;
      }
      if (n == GNUTLS_E_AGAIN) {
        // A post-handshake message (TLS 1.3 NewSessionTicket, KeyUpdate) is
        // consumed with E_AGAIN even when application records follow it in
        // the same read: go on while ciphertext is still buffered, else
        // those records would wait for bytes the peer will never send.
        size_t left = in_.size() - in_pos_;
        if (left > 0 && left < buffered) continue;  // GnuTLS took some: it can go on
        if (ended_) end = UV_EOF;  // the connection ended in the middle of a record
        break;
      }
      if (n == GNUTLS_E_INTERRUPTED || n == GNUTLS_E_WARNING_ALERT_RECEIVED) continue;
      if (n == 0) {
        end = UV_EOF;  // close_notify
      } else {
        if (cfg_ && cfg_->loglevel >= 2 && n != GNUTLS_E_PREMATURE_TERMINATION)
          log::Info("TLS read from {}: {}", raw_->PeerName(), gnutls_strerror(int(n)));
        end = n == GNUTLS_E_PREMATURE_TERMINATION ? UV_EOF : UV_EPROTO;
      }
      break;
    }
    FlushOut();  // GnuTLS may answer post-handshake messages (key updates)
    if (got > 0) {
      auto fn = on_data_;  // the callback may replace it, or destroy us
      fn(std::string_view(buf.data(), got));
      if (!*alive) return;
    }
    if (end != 0) {
      ended_ = true;
      raw_->ReadStop();
      if (auto fn = std::move(on_end_)) fn(end);
      return;
    }
    if (got == 0) break;
  }
  Shrink(&in_);
}

}  // namespace postern::tls
