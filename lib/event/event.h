// event/event.h — small RAII owners over libuv: the loop, any handle (closed
// and freed by the loop), timers, signals, fd polls, connected streams and a
// bounded line splitter. Everything runs on one loop per process.
#pragma once

#include <uv.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "postern/util/fd.h"
#include "postern/util/result.h"

namespace postern::event {

// The fd owner is util/fd.h's; this name stays for code written against it.
using Fd = postern::Fd;

// The process's loop. Destruction closes every handle still open and runs the
// loop until their close callbacks have freed them.
class Loop {
 public:
  Loop();
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;
  uv_loop_t* get() { return &loop_; }
  int Run() { return uv_run(&loop_, UV_RUN_DEFAULT); }
  void Stop() { uv_stop(&loop_); }

 private:
  uv_loop_t loop_;
};

// Owns one heap-allocated libuv handle of type H. The owner's destructor only
// starts uv_close; the loop frees the memory in the close callback, so a
// handle may be dropped from inside its own callback.
template <class H>
class Handle {
 public:
  Handle() : h_(new H{}) {}
  ~Handle() { Close(); }
  Handle(Handle&& o) noexcept : h_(o.h_) { o.h_ = nullptr; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      Close();
      h_ = o.h_;
      o.h_ = nullptr;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  H* get() const { return h_; }
  uv_handle_t* base() const { return reinterpret_cast<uv_handle_t*>(h_); }
  // For handles whose uv_*_init failed: free without uv_close.
  void Abandon() {
    delete h_;
    h_ = nullptr;
  }
  void Close() {
    if (!h_) return;
    base()->data = nullptr;  // callbacks already queued must not reach the owner
    uv_close(base(), [](uv_handle_t* h) { delete reinterpret_cast<H*>(h); });
    h_ = nullptr;
  }

 private:
  H* h_;
};

// A one-shot or repeating timer calling a std::function.
class Timer {
 public:
  explicit Timer(uv_loop_t* loop);
  // Milliseconds; repeat 0 = once. Restarting replaces the callback.
  void Start(uint64_t ms, uint64_t repeat_ms, std::function<void()> fn);
  void Stop();
  bool active() const { return uv_is_active(h_.base()) != 0; }

 private:
  Handle<uv_timer_t> h_;
  std::function<void()> fn_;
};

// A signal watcher (uv_signal): runs fn on the loop, not in signal context.
class Signal {
 public:
  Signal(uv_loop_t* loop, int signum, std::function<void()> fn);

 private:
  Handle<uv_signal_t> h_;
  std::function<void()> fn_;
};

// Readiness of a descriptor the caller owns (listening sockets, pipes).
class Poll {
 public:
  Poll(uv_loop_t* loop, int fd);
  // fn(status, events); status < 0 is a libuv error.
  void Start(int events, std::function<void(int status, int events)> fn);
  void Stop();
  bool active() const { return uv_is_active(h_.base()) != 0; }

 private:
  Handle<uv_poll_t> h_;
  std::function<void(int, int)> fn_;
};

// A connected byte stream (TCP or unix socket) adopted from a descriptor.
// Destroying it closes the connection; pending write callbacks are dropped.
class Stream {
 public:
  // Takes ownership of fd (a connected socket, or a pipe).
  static Result<std::unique_ptr<Stream>> Adopt(uv_loop_t* loop, int fd);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  using ReadFn = std::function<void(std::string_view data)>;
  using EndFn = std::function<void(int status)>;  // UV_EOF or an error
  // Delivers bytes as they arrive (the view lives only during the call: the
  // read buffer is shared by all streams); on_end once, at EOF or on a read error.
  void ReadStart(ReadFn on_data, EndFn on_end);
  void ReadStop();
  // Queues data (copied); done(status) after it is written, unless the
  // stream was destroyed first.
  void Write(std::string data, std::function<void(int status)> done = {});
  size_t write_queue_size() const { return stream()->write_queue_size; }
  uv_stream_t* stream() const { return &h_.get()->stream; }
  int fd() const;
  // "127.0.0.1:2525" or the unix path; "" when unknown.
  std::string PeerName() const;

 private:
  union AnyStream {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  };
  Stream() = default;
  static void OnAlloc(uv_handle_t* h, size_t hint, uv_buf_t* buf);
  static void OnRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);
  Handle<AnyStream> h_;
  ReadFn on_data_;
  EndFn on_end_;
  // Cleared by the destructor: a read callback may destroy its own stream.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// Splits a byte stream into lines ending in LF (CR before it removed).
// A line longer than `limit` is returned in pieces of `limit` bytes with
// `truncated` set, so a peer cannot make it grow without bound.
class LineBuffer {
 public:
  explicit LineBuffer(size_t limit) : limit_(limit) {}
  void Feed(std::string_view data) { buf_.append(data); }
  // The next complete line, without its line ending.
  bool Next(std::string* line, bool* truncated = nullptr);
  size_t pending() const { return buf_.size() - pos_; }

 private:
  size_t limit_;
  std::string buf_;
  size_t pos_ = 0;
};

// Sets or clears O_NONBLOCK / FD_CLOEXEC.
void SetNonBlocking(int fd, bool on);
void SetCloseOnExec(int fd, bool on);

}  // namespace postern::event
