// ctl/ops.cc — the runtime controls that master and the workers answer
// (master/control_ops.cc, smtpd/sessions.cc): argument checks here, the
// answer printed as it streams in.
#include "ctl/ops.h"

#include "ctl/control.h"
#include "postern/log/log.h"

namespace postern::ctl {

const std::vector<Command>& StatsCommands();  // stats.cc

namespace {

std::string Name(const Context& ctx) {
  std::string n;
  for (auto w : ctx.command->words) n += (n.empty() ? "" : " ") + std::string(w);
  return n;
}

template <size_t kMin, size_t kMax>
int Remote(Context& ctx) {
  if (ctx.args.size() < kMin || ctx.args.size() > kMax) {
    std::string usage;
    for (const auto& c : OpsCommands())
      if (&c == ctx.command) usage = std::string(c.usage);
    log::Error("usage: postern {} {}", Name(ctx), usage);
    return 1;
  }
  return RunRemote(ctx);
}

}  // namespace

const std::vector<Command>& OpsCommands() {
  static const std::vector<Command> commands = [] {
    std::vector<Command> v = {
        {{"show", "processes"}, "", "master.cf services: service|type|command|busy|idle|maxproc", Remote<0, 0>},
        {{"show", "sessions"}, "", "SMTP sessions: id|state|client|age|idle|octets in|octets out", Remote<0, 0>},
        {{"kill", "session"}, "ID", "drop an SMTP session (id from show sessions)", Remote<1, 1>},
        {{"log", "brief"}, "", "log normally", Remote<0, 0>},
        {{"log", "verbose"}, "", "verbose logging, with each SMTP session's dialogue", Remote<0, 0>},
        {{"trace"}, "SUBSYSTEM", "log a subsystem's extra lines (smtp, transfer, ..., all)", Remote<1, 1>},
        {{"untrace"}, "SUBSYSTEM", "stop tracing a subsystem", Remote<1, 1>},
        {{"profile"}, "queue|ipc|all", "log timing lines of queue commits or control requests", Remote<1, 1>},
        {{"unprofile"}, "queue|ipc|all", "stop the timing lines", Remote<1, 1>},
        {{"update", "table"}, "NAME", "make every worker reread lookup table NAME", Remote<1, 1>},
        {{"show", "options"}, "", "runtime parameter overrides (set option)", Remote<0, 0>},
        {{"set", "option"}, "name=value | +name|-name ...", "override main.cf parameters until the next reload",
         Remote<1, 32>},
    };
    for (const auto& c : StatsCommands()) v.push_back(c);
    return v;
  }();
  return commands;
}

}  // namespace postern::ctl
