// net/connect.cc — non-blocking connect: the socket is polled for
// writability and SO_ERROR says how the attempt ended.
#include "postern/net/connect.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "postern/util/unix_socket.h"

namespace postern::net {

void Connector::Tcp(const dns::IpAddress& addr, uint16_t port, const dns::IpAddress* bind,
                    uint64_t timeout_ms, Done done) {
  Fd fd(::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return done(Err(std::strerror(errno)));
  if (bind) {
    if (bind->family() != addr.family())
      return done(Err("smtp_bind_address " + bind->ToString() + " is of another address family"));
    sockaddr_storage src = bind->ToSockaddr(0);
    socklen_t len = bind->is_v4() ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&src), len) != 0)
      return done(Err("bind " + bind->ToString() + ": " + std::strerror(errno)));
  }
  sockaddr_storage ss = addr.ToSockaddr(port);
  socklen_t len = addr.is_v4() ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  Begin(std::move(fd), reinterpret_cast<sockaddr*>(&ss), len, timeout_ms, std::move(done));
}

void Connector::Unix(const std::string& path, uint64_t timeout_ms, Done done) {
  auto sun = MakeUnixAddress(path);
  if (!sun) return done(Err(sun.error()));
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return done(Err(std::strerror(errno)));
  Begin(std::move(fd), sun->get(), sun->size(), timeout_ms, std::move(done));
}

void Connector::Begin(Fd fd, const sockaddr* sa, socklen_t len, uint64_t timeout_ms,
                      Done done) {
  done_ = std::move(done);
  fd_ = std::move(fd);
  if (::connect(fd_.get(), sa, len) == 0) return Finish(0);
  if (errno != EINPROGRESS) return Finish(errno);
  poll_ = std::make_unique<event::Poll>(loop_, fd_.get());
  poll_->Start(UV_WRITABLE, [this](int status, int) {
    // libuv reports POLLERR as UV_EBADF: the socket itself knows the real reason.
    int err = 0;
    socklen_t elen = sizeof err;
    if (::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &elen) != 0) err = errno;
    if (err == 0 && status < 0) err = -status;
    Finish(err);
  });
  if (timeout_ms) timer_.Start(timeout_ms, 0, [this] { Finish(ETIMEDOUT); });
}

void Connector::Finish(int err) {
  timer_.Stop();
  poll_.reset();  // stops watching the descriptor before the stream adopts it
  Done done = std::move(done_);
  done_ = nullptr;
  Fd fd = std::move(fd_);
  if (!done) return;
  if (err) return done(Err(std::strerror(err)));
  done(event::Stream::Adopt(loop_, fd.Release()));
}

void Connector::Cancel() {
  timer_.Stop();
  poll_.reset();
  done_ = nullptr;
  fd_.Reset();
}

}  // namespace postern::net
