// ctl/commands.cc — the `postern` command table: every command set joined
// (see commands.h); apart from main.cc so that the unit tests link it too.
#include "ctl/commands.h"

#include <vector>

#include "ctl/control.h"
#include "ctl/flush.h"
#include "ctl/lifecycle.h"
#include "ctl/ops.h"
#include "ctl/quarantine.h"
#include "ctl/tools.h"

namespace postern::ctl {

std::span<const Command> Commands() {
  static const std::vector<Command> all = [] {
    std::vector<Command> v;
    for (const auto& c : LifecycleCommands()) v.push_back(c);
    for (const auto& c : FlushCommands()) v.push_back(c);
    for (const auto& c : ControlCommands()) v.push_back(c);
    for (const auto& c : ToolCommands()) v.push_back(c);
    for (const auto& c : OpsCommands()) v.push_back(c);
    for (const auto& c : QuarantineCommands()) v.push_back(c);
    return v;
  }();
  return all;
}

}  // namespace postern::ctl
