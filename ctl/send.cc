// ctl/send.cc — `postern send` (Plan 9's upas/smtp): runs the smtp delivery
// agent as `smtp send -C config_dir ARGS`, so that the message goes through
// the very client code the daemon uses, without the queue; see postern-send(1).
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "ctl/tools.h"

namespace postern::ctl {
namespace {

int Send(Context& ctx) {
  std::string program = ctx.cfg.Str("daemon_directory") + "/smtp";
  std::vector<std::string> words = {"smtp", "send", "-C", ctx.config_dir};
  words.insert(words.end(), ctx.args.begin(), ctx.args.end());
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  execv(program.c_str(), argv.data());
  std::fprintf(stderr, "postern: send: cannot run %s: %s\n", program.c_str(), std::strerror(errno));
  return 1;
}

}  // namespace

const std::vector<Command>& SendCommands() {
  static const std::vector<Command> v = {
      {{"send"},
       "[-aAdfiops] [-b mx]... [-g gateway] [-h host] [-u user] [.domain] destaddr sender rcpt...",
       "send standard input to destaddr through the smtp client, no queue (postern-send(1))",
       Send}};
  return v;
}

}  // namespace postern::ctl
