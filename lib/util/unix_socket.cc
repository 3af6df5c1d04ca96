// util/unix_socket.cc — unix-domain socket addresses and connects; see unix_socket.h.
#include "postern/util/unix_socket.h"

#include <cerrno>
#include <cstring>

namespace postern {

Result<UnixAddress> MakeUnixAddress(std::string_view path) {
  UnixAddress a;
  if (path.empty()) return Err("empty socket path");
  if (path.size() >= sizeof a.sun.sun_path) return Err("socket path too long: " + std::string(path));
  a.sun.sun_family = AF_UNIX;
  std::memcpy(a.sun.sun_path, path.data(), path.size());
  return a;
}

Result<Fd> ConnectUnix(std::string_view path, bool nonblocking, int* err) {
  if (err) *err = 0;
  auto addr = MakeUnixAddress(path);
  if (!addr) return Err(addr.error());
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0));
  int e = fd.valid() && ::connect(fd.get(), addr->get(), addr->size()) == 0 ? 0 : errno;
  if (e == 0) return fd;
  if (err) *err = e;
  return Err((fd.valid() ? "connect to " : "socket for ") + std::string(path) + ": " + std::strerror(e));
}

}  // namespace postern
