// ctl/ops.h — the operator's runtime commands of `postern` (smtpctl and
// smtpf): show stats / monitor (live counters, the statistics store and the
// queue), show sessions, kill session, log, trace, profile, update table,
// show options, set option. commands.cc joins OpsCommands() into its table.
#pragma once

#include <vector>

#include "ctl/commands.h"

namespace postern::ctl {

const std::vector<Command>& OpsCommands();

}  // namespace postern::ctl
