// ctl/tools.cc — joins the stand-alone tool commands (encrypt, spf walk,
// cache) into one list for main.cc's command table.
#include "ctl/tools.h"

namespace postern::ctl {

const std::vector<Command>& ToolCommands() {
  static const std::vector<Command> all = [] {
    std::vector<Command> v;
    for (const auto* set : {&EncryptCommands(), &SpfCommands(), &CacheCommands()})
      v.insert(v.end(), set->begin(), set->end());
    return v;
  }();
  return all;
}

}  // namespace postern::ctl
