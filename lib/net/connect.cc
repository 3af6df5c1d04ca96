// net/connect.cc — non-blocking connect: the socket is polled for
// writability and SO_ERROR says how the attempt ended.
#include "postern/net/connect.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "postern/util/strings.h"
#include "postern/util/unix_socket.h"

namespace postern::net {

Result<std::pair<dns::IpAddress, uint16_t>> ResolveHostPort(std::string_view hp) {
  size_t colon = hp.rfind(':');
  if (colon == std::string_view::npos) return Err("no port in " + std::string(hp));
  std::string host(hp.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned long long port = 0;
  if (!ParseUnsigned(hp.substr(colon + 1), &port) || port == 0 || port > 65535)
    return Err("bad port in " + std::string(hp));
  if (auto a = dns::IpAddress::Parse(host)) return std::make_pair(*a, uint16_t(port));
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int e = getaddrinfo(host.c_str(), nullptr, &hints, &res); e != 0) return Err(host + ": " + gai_strerror(e));
  std::optional<dns::IpAddress> a;
  for (addrinfo* i = res; i && !a; i = i->ai_next) {
    if (i->ai_family == AF_INET) a = dns::IpAddress::V4(reinterpret_cast<sockaddr_in*>(i->ai_addr)->sin_addr);
    else if (i->ai_family == AF_INET6) a = dns::IpAddress::V6(reinterpret_cast<sockaddr_in6*>(i->ai_addr)->sin6_addr);
  }
  freeaddrinfo(res);
  if (!a) return Err(host + ": no address");
  return std::make_pair(*a, uint16_t(port));
}

Result<std::string> ParseEndpoint(std::string_view e, std::string_view base_dir) {
  if (StartsWith(e, "inet:")) {
    size_t colon = e.rfind(':');
    if (colon <= 5 || colon + 1 >= e.size())  // host and port not empty
      return Err("\"" + std::string(e) + "\" needs inet:host:port");
    return std::string(e);
  }
  if (StartsWith(e, "unix:") && e.size() > 5) {
    std::string_view path = e.substr(5);
    if (path.front() == '/') return std::string(e);
    return "unix:" + std::string(base_dir) + "/" + std::string(path);
  }
  return Err("\"" + std::string(e) + "\" is not inet:host:port or unix:pathname");
}

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
