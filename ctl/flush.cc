// ctl/flush.cc — `postern flush`: writes qmgr's wakeup requests "F" (forget
// dead destinations and throttled transports) and "A" (scan everything,
// ignoring next-attempt times) to $queue_directory/public/qmgr.
#include "ctl/flush.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "event/event.h"
#include "log/log.h"

namespace postern::ctl {

Result<void> TriggerFlush(const config::Config& cfg) {
  auto qdir = cfg.Get("queue_directory");
  if (!qdir) return Err(qdir.error());
  std::string path = *qdir + "/public/qmgr";
  sockaddr_un sun{};
  if (path.size() >= sizeof sun.sun_path) return Err("socket path too long: " + path);
  sun.sun_family = AF_UNIX;
  std::memcpy(sun.sun_path, path.data(), path.size());
  event::Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid() || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0)
    return Err("cannot reach the queue manager at " + path + ": " + std::strerror(errno) +
               "; is postern running (postern start)?");
  if (::write(fd.get(), "FA", 2) != 2) return Err("write to " + path + ": " + std::strerror(errno));
  return {};
}

namespace {

int Flush(Context& ctx) {
  if (!ctx.args.empty()) {
    log::Error("flush takes no arguments");
    return 1;
  }
  if (auto r = TriggerFlush(ctx.cfg); !r) {
    log::Error("{}", r.error());
    return 1;
  }
  return 0;
}

}  // namespace

const std::vector<Command>& FlushCommands() {
  static const std::vector<Command> commands = {
      {{"flush"}, "", "attempt delivery of all deferred mail now", Flush},
  };
  return commands;
}

}  // namespace postern::ctl
