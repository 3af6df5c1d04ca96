// ctl/lifecycle.h — the start/stop/status/check commands and the instance
// check that `start` also runs.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "ctl/commands.h"

namespace postern::ctl {

struct Problem {
  bool warning;  // false: an error, which start refuses
  std::string text;
  bool notice = false;  // a warning that is only information (a service not started)
};

// Every problem of main.cf, master.cf and the directory tree.
std::vector<Problem> CheckInstance(Context& ctx);
// Prints them (errors only when errors_only); returns the number of errors.
int PrintProblems(const std::vector<Problem>& problems, bool errors_only);

const std::vector<Command>& LifecycleCommands();

// The running master's pid (it holds a lock on its pid file), or nullopt.
std::optional<pid_t> MasterPid(const config::Config& cfg);

// How the lifecycle commands name themselves on stderr: postern's words, or
// Postfix's under the postfix command ("postfix/postfix-script: ... the
// Postfix mail system ..."), which scripts written for Postfix look for.
struct Voice {
  std::string script = "postern/postern-script";
  std::string system = "postern";
};
void SetVoice(Voice v);

}  // namespace postern::ctl
