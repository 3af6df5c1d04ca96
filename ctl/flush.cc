// ctl/flush.cc — `postern flush`: writes qmgr's wakeup requests "F" (forget
// dead destinations and throttled transports) and "A" (scan everything,
// ignoring next-attempt times) to $queue_directory/public/qmgr, and wakes
// pickup for the maildrop.
#include "ctl/flush.h"

#include <string>

#include "postern/ipc/trigger.h"
#include "postern/log/log.h"

namespace postern::ctl {

Result<void> TriggerFlush(const config::Config& cfg) {
  auto qdir = cfg.Get("queue_directory");
  if (!qdir) return Err(qdir.error());
  std::string path = ipc::QmgrSocket(*qdir);
  if (auto r = ipc::Trigger(path, "FA"); !r)
    return Err("cannot reach the queue manager: " + r.error() + "; is postern running (postern start)?");
  // As Postfix's postqueue -f: the maildrop too, which pickup otherwise takes on its next wakeup.
  (void)ipc::Trigger(*qdir + "/public/pickup", std::string_view(&ipc::kWakeup, 1));
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
