// tls/stream.h — a connection that starts in plain text and may switch to TLS
// (STARTTLS) or start in it (port 465). GnuTLS reads and writes memory
// buffers; the bytes travel over the event::Stream, so nothing blocks the loop.
#pragma once

#include <gnutls/gnutls.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "postern/event/event.h"
#include "postern/tls/tls.h"
#include "postern/util/result.h"

namespace postern::tls {

// Owns a gnutls_session_t.
class Session {
 public:
  Session() = default;
  ~Session() { Reset(); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  Result<void> Init(unsigned flags);
  void Reset();
  gnutls_session_t get() const { return s_; }
  explicit operator bool() const { return s_ != nullptr; }

 private:
  gnutls_session_t s_ = nullptr;
};

// The same surface as event::Stream (so a session need not care whether it
// speaks TLS), plus StartTls. Destroying it closes the connection.
class Stream {
 public:
  Stream(uv_loop_t* loop, std::unique_ptr<event::Stream> raw);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  using ReadFn = event::Stream::ReadFn;
  using EndFn = event::Stream::EndFn;
  // As event::Stream: plaintext (decrypted once TLS is on) as it arrives.
  // The callbacks may destroy the stream.
  void ReadStart(ReadFn on_data, EndFn on_end);
  void ReadStop();
  // Queues data (encrypted once TLS is on). `last`: the peer gets TLS's
  // close_notify right after it (the connection is about to close).
  void Write(std::string data, std::function<void(int status)> done = {}, bool last = false);
  size_t write_queue_size() const { return raw_->write_queue_size(); }
  int fd() const { return raw_->fd(); }
  std::string PeerName() const { return raw_->PeerName(); }

  // Starts the handshake: what was written before goes out in plain text,
  // everything received from now on is TLS. No data is delivered to the
  // read callback until done(ok) — done(error) when the handshake failed or
  // took longer than cfg.handshake_timeout_ms; the connection is then unusable.
  // `cfg` must outlive the stream.
  using HandshakeFn = std::function<void(Result<void>)>;
  void StartTls(const Config& cfg, HandshakeFn done);
  bool tls() const { return established_; }
  bool handshaking() const { return handshaking_; }
  const Info& info() const { return info_; }
  gnutls_session_t session() const { return session_.get(); }

 private:
  static ssize_t Push(gnutls_transport_ptr_t p, const void* data, size_t len);
  static ssize_t Pull(gnutls_transport_ptr_t p, void* data, size_t len);
  static int PullTimeout(gnutls_transport_ptr_t p, unsigned int ms);
  void OnCipher(std::string_view data);
  void OnRawEnd(int status);
  void Handshake();
  void SendAlertFor(int gnutls_error);  // the fatal alert that matches a failed handshake
  void HandshakeDone(Result<void> r);
  void Drain();
  void ScheduleDrain();
  void FlushOut(std::function<void(int)> done = {});
  void RawReadUpdate();

  uv_loop_t* loop_;
  std::unique_ptr<event::Stream> raw_;
  Session session_;
  const Config* cfg_ = nullptr;
  HandshakeFn on_handshake_;
  ReadFn on_data_;
  EndFn on_end_;
  bool user_reading_ = false;
  bool handshaking_ = false;
  bool established_ = false;
  bool ended_ = false;
  std::string in_;     // ciphertext received, not yet taken by GnuTLS
  size_t in_pos_ = 0;
  std::string out_;    // ciphertext GnuTLS produced, not yet written
  Info info_;
  event::Timer timer_;  // the handshake's time limit, and deferred drains
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace postern::tls
