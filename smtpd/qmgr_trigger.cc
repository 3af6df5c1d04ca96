// smtpd/qmgr_trigger.cc — the one-byte wakeup for qmgr; see qmgr_trigger.h.
#include "smtpd/qmgr_trigger.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "event/event.h"
#include "log/log.h"

namespace postern::smtpd {

bool TriggerQmgr(const std::string& queue_directory, char request) {
  std::string path = queue_directory + "/public/qmgr";
  sockaddr_un sa{};
  if (path.size() >= sizeof sa.sun_path) {
    log::Verbose("qmgr trigger: socket path too long: {}", path);
    return false;
  }
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  event::Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    log::Verbose("qmgr trigger: socket: {}", std::strerror(errno));
    return false;
  }
  // A unix-socket connect completes at once or fails (EAGAIN: backlog full).
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    log::Verbose("qmgr trigger: connect {}: {}", path, std::strerror(errno));
    return false;
  }
  if (send(fd.get(), &request, 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1) {
    log::Verbose("qmgr trigger: write {}: {}", path, std::strerror(errno));
    return false;
  }
  return true;
}

}  // namespace postern::smtpd
