// ctl/verify.cc — `postern verify [-s] ADDRESS...`: a fresh probe of each
// address through verify(8), printed with the remote server's reply.
#include "ctl/tools.h"
#include "postern/ipc/verify.h"
#include "postern/log/log.h"

namespace postern::ctl {

namespace {

int Verify(Context& ctx) {
  std::vector<std::string> addrs = ctx.args;
  auto kind = ipc::VerifyKind::kRecipient;
  if (!addrs.empty() && addrs[0] == "-s") {  // as a sender (its sav: keys)
    kind = ipc::VerifyKind::kSender;
    addrs.erase(addrs.begin());
  }
  if (addrs.empty()) {
    log::Error("usage: postern verify [-s] ADDRESS...");
    return 1;
  }
  std::string socket = ctx.cfg.Str("queue_directory") + "/private/" + ctx.cfg.Str("address_verify_service_name");
  return ipc::VerifyAndPrint(socket, kind, addrs);
}

}  // namespace

const std::vector<Command>& VerifyCommands() {
  static const std::vector<Command> commands = {
      {{"verify"}, "[-s] ADDRESS...", "probe addresses through verify(8) and print the result and the remote reply",
       Verify},
  };
  return commands;
}

}  // namespace postern::ctl
