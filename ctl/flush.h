// ctl/flush.h — `postern flush`: ask qmgr to attempt every deferred message
// now (Postfix's postqueue -f / postfix flush).
#pragma once

#include <vector>

#include "ctl/commands.h"
#include "postern/util/result.h"

namespace postern::ctl {

const std::vector<Command>& FlushCommands();

// Asks qmgr to forget dead destinations and attempt everything now; fails
// when qmgr's socket does not answer (the mail system is down).
Result<void> TriggerFlush(const config::Config& cfg);

}  // namespace postern::ctl
