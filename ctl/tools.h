// ctl/tools.h — the `postern` commands that work without a running system:
// encrypt (password hashes), spf walk (SPF ranges via DNS), version, cache (the
// policy cache database) and send (one message through the smtp client).
// commands.cc joins ToolCommands() into its table.
#pragma once

#include <vector>

#include "ctl/commands.h"

namespace postern::ctl {

const std::vector<Command>& EncryptCommands();
const std::vector<Command>& SpfCommands();
const std::vector<Command>& CacheCommands();
const std::vector<Command>& VerifyCommands();  // verify.cc
const std::vector<Command>& SendCommands();    // send.cc
// All of the above.
const std::vector<Command>& ToolCommands();

}  // namespace postern::ctl
