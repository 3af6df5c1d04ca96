// smtp/conn.h — one open SMTP/LMTP connection: queued commands out, replies
// in through lib/smtp's parser, each awaited reply bounded by its phase's
// timer; STARTTLS switches it to TLS. It outlives a delivery request when the
// connection cache keeps it. `postern trace transfer` logs its dialogue.
#pragma once

#include <uv.h>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "postern/event/event.h"
#include "postern/smtp/reply.h"
#include "postern/tls/stream.h"
#include "postern/util/result.h"
#include "smtp/format.h"

namespace postern::smtp_client {

class Conn {
 public:
  using Clock = std::chrono::steady_clock;
  // A reply, or the failure in Postfix's words ("lost connection with h[a]
  // while sending RCPT TO").
  using ReplyFn = std::function<void(Result<smtp::Reply>)>;

  Conn(uv_loop_t* loop, std::unique_ptr<event::Stream> stream, std::string host, std::string addr,
       uint16_t port, size_t line_limit);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Queues commands for the peer; done(status) once written (status < 0: failed).
  void Write(std::string data, std::function<void(int)> done = {});
  // The same for what must not be logged as it is: the message content
  // (never traced) and AUTH's secrets (traced as `shown`).
  void WriteData(std::string data, std::function<void(int)> done = {});
  void WriteSecret(std::string data, std::string_view shown);
  // After the server's 220 to STARTTLS: whatever it sent behind that reply
  // was plain text a man in the middle may have put there, and is dropped;
  // then the handshake. done(error): the connection is unusable.
  void StartTls(tls::Config cfg, std::function<void(Result<void>)> done);
  bool tls() const { return stream_->tls(); }
  gnutls_session_t tls_session() const { return stream_->session(); }
  const tls::Info& tls_info() const { return stream_->info(); }
  // Awaits the next reply. `phase` completes "while ..." in failure texts.
  void Expect(std::string phase, uint64_t timeout_ms, ReplyFn fn);
  // Called once when the peer closes or breaks the connection while no reply
  // is awaited (a cached connection that went away).
  void OnIdleBreak(std::function<void()> fn) { on_idle_break_ = std::move(fn); }
  // A failure was seen, or the server said 421 (it is closing): the
  // connection must not be used for another transaction.
  bool broken() const { return broken_ || closing_; }
  size_t write_queue_size() const { return stream_->write_queue_size(); }
  // smtp_per_record_deadline: the phase's limit is for the whole reply; else
  // (Postfix's default) it starts again whenever bytes of it arrive.
  void set_per_record_deadline(bool on) { per_record_deadline_ = on; }

  const std::string& host() const { return host_; }
  const std::string& addr() const { return addr_; }  // an IP address, or a unix socket path
  // "host[addr]" and "host[addr]:port" (unix sockets: no port).
  std::string peer() const { return host_ + "[" + addr_ + "]"; }
  std::string relay() const { return port_ ? peer() + ":" + std::to_string(port_) : peer(); }
  Clock::time_point created() const { return created_; }
  // debug_peer_list: log this connection's dialogue whatever the log level.
  void SetDebug(bool on) { debug_ = on; }

  // Protocol state the delivery keeps across requests on this connection.
  smtp::EhloInfo ehlo;
  bool esmtp = false;
  std::vector<std::string> xforward;  // the attributes the server's XFORWARD line names, upper-cased
  uint64_t deliveries = 0;

 private:
  struct Waiter {
    std::string phase;
    uint64_t timeout_ms;
    ReplyFn fn;
  };
  void OnData(std::string_view data);
  void Fail(bool timeout);  // fails every waiter; the connection is done
  void Arm();

  // The dialogue: at info level for a debug peer, else under `trace transfer`.
  bool Dialogue() const;
  void Chat(std::string_view line, bool out) const;
  void TraceOut(std::string_view data) const;

  std::unique_ptr<tls::Stream> stream_;
  tls::Config tls_cfg_;  // must outlive the handshake: the stream keeps a pointer
  event::Timer timer_;
  size_t line_limit_;
  smtp::ReplyParser parser_;
  std::deque<Waiter> waiters_;
  std::string host_, addr_;
  uint16_t port_;
  Clock::time_point created_ = Clock::now();
  bool broken_ = false;
  bool closing_ = false;
  bool per_record_deadline_ = false;
  bool debug_ = false;
  std::function<void()> on_idle_break_;
  // Cleared by the destructor: a reply callback may destroy this connection.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace postern::smtp_client
