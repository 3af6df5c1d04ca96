// pipe/main.cc — the pipe(8) delivery agent: started by master for a
// master.cf service whose command is `pipe`, it serves one qmgr delivery
// request per client by running the service's argv= command. See pipe(8).
#include "pipe/deliver.h"
#include "postern/log/log.h"
#include "postern/mda/message.h"
#include "postern/server/delivery_agent.h"

using namespace postern;

namespace {

Result<void> Init(server::Context& ctx, pipe::Agent* agent) {
  auto s = pipe::Settings::Load(ctx.config, ctx.service, ctx.args);
  if (!s) return Err("service " + ctx.service + ": " + s.error());
  agent->settings = std::move(*s);
  auto q = mda::OpenQueue(ctx.config, agent->settings.queue_directory);
  if (!q) return Err(q.error());
  agent->queue = std::move(*q);
  return {};
}

// `set option`: a time limit or environment that works replaces the old one.
void Adopt(server::Context& ctx, const ipc::control::RuntimeState& old, pipe::Agent* agent) {
  if (ctx.runtime.options == old.options) return;
  auto s = pipe::Settings::Load(ctx.config, ctx.service, ctx.args);
  if (!s) return log::Warning("set option: {}; keeping the previous settings", s.error());
  agent->settings = std::move(*s);
  server::LogOptionsAdopted(ctx, old);
}

}  // namespace

int main(int argc, char** argv) {
  return server::RunAgentWithState<pipe::Agent>("pipe", argc, argv, Init, pipe::Deliver, Adopt);
}
