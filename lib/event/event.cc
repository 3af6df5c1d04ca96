// event/event.cc — libuv owners; see event.h. Callbacks find their owner via
// handle->data, which Handle::Close clears so late callbacks are ignored.
#include "postern/event/event.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cstdlib>

namespace postern::event {

Loop::Loop() {
  if (uv_loop_init(&loop_) != 0) std::abort();
}

Loop::~Loop() {
  uv_walk(
      &loop_,
      [](uv_handle_t* h, void*) {
        // Handles still owned elsewhere are closed by their owners; these are
        // the ones whose owner leaked into the loop's lifetime.
        if (!uv_is_closing(h)) uv_close(h, nullptr);
      },
      nullptr);
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
}

Timer::Timer(uv_loop_t* loop) {
  uv_timer_init(loop, h_.get());
  h_.get()->data = this;
}

void Timer::Start(uint64_t ms, uint64_t repeat_ms, std::function<void()> fn) {
  fn_ = std::move(fn);
  uv_timer_start(
      h_.get(),
      [](uv_timer_t* t) {
        if (auto* self = static_cast<Timer*>(t->data)) {
          auto fn = self->fn_;  // the callback may restart or destroy the timer
          fn();
        }
      },
      ms, repeat_ms);
}

void Timer::Stop() { uv_timer_stop(h_.get()); }

Signal::Signal(uv_loop_t* loop, int signum, std::function<void()> fn) : fn_(std::move(fn)) {
  uv_signal_init(loop, h_.get());
  h_.get()->data = this;
  uv_signal_start(
      h_.get(),
      [](uv_signal_t* s, int) {
        if (auto* self = static_cast<Signal*>(s->data)) self->fn_();
      },
      signum);
}

Poll::Poll(uv_loop_t* loop, int fd) {
  if (uv_poll_init(loop, h_.get(), fd) != 0) std::abort();  // fd is ours and valid
  h_.get()->data = this;
}

void Poll::Start(int events, std::function<void(int, int)> fn) {
  fn_ = std::move(fn);
  uv_poll_start(h_.get(), events, [](uv_poll_t* p, int status, int ev) {
    if (auto* self = static_cast<Poll*>(p->data)) {
      auto fn = self->fn_;
      fn(status, ev);
    }
  });
}

void Poll::Stop() { uv_poll_stop(h_.get()); }

Result<std::unique_ptr<Stream>> Stream::Adopt(uv_loop_t* loop, int fd) {
  Fd owned(fd);
  std::unique_ptr<Stream> s(new Stream);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  bool unix_or_pipe = getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0 || ss.ss_family == AF_UNIX;
  int rc = unix_or_pipe ? uv_pipe_init(loop, &s->h_.get()->pipe, 0) : uv_tcp_init(loop, &s->h_.get()->tcp);
  if (rc != 0) {
    s->h_.Abandon();
    return Err(std::string("stream init: ") + uv_strerror(rc));
  }
  s->h_.get()->handle.data = s.get();
  rc = unix_or_pipe ? uv_pipe_open(&s->h_.get()->pipe, fd) : uv_tcp_open(&s->h_.get()->tcp, fd);
  if (rc != 0) return Err(std::string("stream open: ") + uv_strerror(rc));
  owned.Release();  // the handle closes it now
  return s;
}

Stream::~Stream() { *alive_ = false; }

int Stream::fd() const {
  uv_os_fd_t fd = -1;
  uv_fileno(&h_.get()->handle, &fd);
  return fd;
}

std::string Stream::PeerName() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "";
  char host[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    uv_ip4_name(a, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(a->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    uv_ip6_name(a, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  if (ss.ss_family == AF_UNIX) return reinterpret_cast<sockaddr_un*>(&ss)->sun_path;
  return "";
}

void Stream::OnAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  if (!h->data) {
    *buf = uv_buf_init(nullptr, 0);
    return;
  }
  // One buffer per thread (that is, per loop) serves every stream: libuv
  // fills it and passes it to OnRead at once, where it is consumed, so an
  // idle connection holds no read buffer (smtpd keeps thousands of them).
  static thread_local std::array<char, 65536> shared;
  *buf = uv_buf_init(shared.data(), unsigned(shared.size()));
}

void Stream::OnRead(uv_stream_t* st, ssize_t n, const uv_buf_t* buf) {
  auto* self = static_cast<Stream*>(st->data);
  if (!self || n == 0) return;
  if (n < 0) {
    uv_read_stop(st);
    auto end = std::move(self->on_end_);
    self->on_data_ = nullptr;
    if (end) end(int(n));  // may destroy the stream
    return;
  }
  // The callback may destroy the stream (and with it on_data_): run a moved
  // copy and put it back only if the stream survived and kept no new one.
  auto alive = self->alive_;
  auto fn = std::move(self->on_data_);
  self->on_data_ = nullptr;
  fn(std::string_view(buf->base, size_t(n)));
  if (*alive && !self->on_data_) self->on_data_ = std::move(fn);
}

void Stream::ReadStart(ReadFn on_data, EndFn on_end) {
  on_data_ = std::move(on_data);
  on_end_ = std::move(on_end);
  uv_read_start(stream(), OnAlloc, OnRead);
}

void Stream::ReadStop() { uv_read_stop(stream()); }

namespace {
struct WriteReq {
  uv_write_t req;
  std::string data;
  std::function<void(int)> done;
};
}  // namespace

void Stream::Write(std::string data, std::function<void(int)> done) {
  auto* w = new WriteReq{{}, std::move(data), std::move(done)};
  uv_buf_t buf = uv_buf_init(w->data.data(), unsigned(w->data.size()));
  int rc = uv_write(&w->req, stream(), &buf, 1, [](uv_write_t* r, int status) {
    std::unique_ptr<WriteReq> w(reinterpret_cast<WriteReq*>(r));
    // ECANCELED: the stream was closed; its owner is gone.
    if (status != UV_ECANCELED && r->handle->data && w->done) w->done(status);
  });
  if (rc != 0) {
    auto fn = std::move(w->done);
    delete w;
    if (fn) fn(rc);
  }
}

bool LineBuffer::Next(std::string* line, bool* truncated) {
  std::string_view rest(buf_.data() + pos_, buf_.size() - pos_);
  size_t nl = rest.find('\n');
  bool cut = false;
  if (nl == std::string_view::npos || nl > limit_) {
    if (rest.size() <= limit_) {
      // Keep the partial line; compact so the buffer does not creep.
      if (pos_ > 0) {
        buf_.erase(0, pos_);
        pos_ = 0;
      }
      return false;
    }
    nl = limit_;
    cut = true;
  }
  std::string_view l = rest.substr(0, nl);
  if (!cut && !l.empty() && l.back() == '\r') l.remove_suffix(1);
  line->assign(l);
  pos_ += cut ? nl : nl + 1;
  if (truncated) *truncated = cut;
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  return true;
}

void SetNonBlocking(int fd, bool on) {
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

void SetCloseOnExec(int fd, bool on) {
  int fl = fcntl(fd, F_GETFD);
  if (fl >= 0) fcntl(fd, F_SETFD, on ? fl | FD_CLOEXEC : fl & ~FD_CLOEXEC);
}

}  // namespace postern::event
