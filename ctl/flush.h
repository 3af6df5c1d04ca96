// ctl/flush.h — `postern flush`: ask qmgr to attempt every deferred message
// now (Postfix's postqueue -f / postfix flush).
#pragma once

#include <vector>

#include "ctl/commands.h"

namespace postern::ctl {

const std::vector<Command>& FlushCommands();

}  // namespace postern::ctl
