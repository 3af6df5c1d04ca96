// ctl/lifecycle.h — the start/stop/status/check commands and the instance
// check that `start` also runs.
#pragma once

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

}  // namespace postern::ctl
