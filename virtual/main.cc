// virtual/main.cc — the virtual(8) delivery agent: started by master for
// master.cf's `virtual unix - n n - - virtual` (root: it writes each mailbox
// as its owner), it serves one qmgr delivery request per client. See virtual(8).
#include <unistd.h>

#include "postern/log/log.h"
#include "postern/mda/message.h"
#include "postern/mda/privs.h"
#include "postern/server/delivery_agent.h"
#include "virtual/deliver.h"

using namespace postern;

namespace {

// Dropped to mail_owner (unpriv column not n), mailboxes would be written
// with the queue owner's ids instead of virtual_uid_maps': refuse.
Result<void> CheckPrivileges(const config::Config& cfg) {
  if (mda::Privileged()) return {};
  std::string owner = cfg.Str("mail_owner");
  auto pw = mda::UserByName(owner);
  if (pw && pw->uid == geteuid())
    return Err("running as mail_owner " + owner + ", mailboxes cannot be written as virtual_uid_maps' users: "
               "set the unpriv column to n");
  return {};
}

Result<void> Init(server::Context& ctx, virt::Agent* agent) {
  if (!ctx.args.empty()) return Err("unexpected command-line argument: " + ctx.args[0]);
  if (auto r = CheckPrivileges(ctx.config); !r) return r;
  auto s = virt::Settings::Load(ctx.config, ctx.service);
  if (!s) return Err(s.error());
  agent->settings = std::move(*s);
  virt::OpenTables(agent);
  auto q = mda::OpenQueue(ctx.config, agent->settings.queue_directory);
  if (!q) return Err(q.error());
  agent->queue = std::move(*q);
  return {};
}

// `set option`: settings that work replace the old ones, tables reopened.
void Adopt(server::Context& ctx, const ipc::control::RuntimeState& old, virt::Agent* agent) {
  if (ctx.runtime.options == old.options) return;
  auto s = virt::Settings::Load(ctx.config, ctx.service);
  if (!s) return log::Warning("set option: {}; keeping the previous settings", s.error());
  agent->settings = std::move(*s);
  virt::OpenTables(agent);
  server::LogOptionsAdopted(ctx, old);
}

}  // namespace

int main(int argc, char** argv) {
  return server::RunAgentWithState<virt::Agent>("virtual", argc, argv, Init, virt::Deliver, Adopt);
}
