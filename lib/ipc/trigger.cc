// ipc/trigger.cc — the wakeup request of trigger.h.
#include "ipc/trigger.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "event/event.h"

namespace postern::ipc {

Result<void> Trigger(const std::string& socket_path, std::string_view request) {
  sockaddr_un sa{};
  if (socket_path.size() >= sizeof sa.sun_path) return Err("socket path too long: " + socket_path);
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, socket_path.c_str(), socket_path.size() + 1);
  event::Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Err(std::string("socket: ") + std::strerror(errno));
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    return Err("connect " + socket_path + ": " + std::strerror(errno));
  ssize_t n = send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n != static_cast<ssize_t>(request.size()))
    return Err("write " + socket_path + ": " + (n < 0 ? std::strerror(errno) : "short write"));
  return {};
}

}  // namespace postern::ipc
