// ctl/tools.cc — joins the stand-alone tool commands (encrypt, spf walk,
// cache, verify, send, version) into one list for main.cc's command table.
#include "ctl/tools.h"

#include <cstdio>

namespace postern::ctl {
namespace {

// The read-only mail_version: the version the programs were built from.
int Version(Context& ctx) {
  std::printf("postern %s\n", ctx.cfg.Str("mail_version").c_str());
  return std::fflush(stdout) == 0 ? 0 : 1;
}

const std::vector<Command> kVersion = {{{"version"}, "", "print postern's version (mail_version)", Version}};

}  // namespace

const std::vector<Command>& ToolCommands() {
  static const std::vector<Command> all = [] {
    std::vector<Command> v;
    for (const auto* set : {&EncryptCommands(), &SpfCommands(), &CacheCommands(), &VerifyCommands(), &SendCommands(),
                            &kVersion})
      v.insert(v.end(), set->begin(), set->end());
    return v;
  }();
  return all;
}

}  // namespace postern::ctl
