// ipc/trigger.cc — the wakeup requests of trigger.h.
#include "postern/ipc/trigger.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "postern/log/log.h"
#include "postern/util/unix_socket.h"

namespace postern::ipc {

Result<void> Trigger(const std::string& socket_path, std::string_view request, Wait wait, int* err) {
  auto fd = ConnectUnix(socket_path, wait == Wait::kNever, err);
  if (!fd) return Err(fd.error());
  ssize_t n = send(fd->get(), request.data(), request.size(), MSG_NOSIGNAL | (wait == Wait::kNever ? MSG_DONTWAIT : 0));
  if (n == static_cast<ssize_t>(request.size())) return {};
  if (err) *err = n < 0 ? errno : 0;
  return Err("write " + socket_path + ": " + (n < 0 ? std::strerror(errno) : "short write"));
}

std::string QmgrSocket(const std::string& queue_directory) { return queue_directory + "/public/qmgr"; }

bool TriggerQmgr(const std::string& queue_directory, std::string_view request) {
  auto r = Trigger(QmgrSocket(queue_directory), request);
  if (!r) log::Verbose("qmgr trigger: {}", r.error());
  return r.ok();
}

}  // namespace postern::ipc
