// error/main.cc — the error(8) and discard(8) delivery agents, one program
// (discard is a link to it): for master.cf's `error` and `retry` services
// every recipient of a request is bounced (error) or deferred (retry), run
// as `discard` every recipient is discarded as delivered; the next hop is
// the reason. See error(8), discard(8).
#include <string>

#include "error/deliver.h"
#include "postern/server/delivery_agent.h"

using namespace postern;

int main(int argc, char** argv) {
  std::string program = argc > 0 ? argv[0] : "error";
  program = program.substr(program.rfind('/') + 1);
  if (program != "discard") program = "error";
  // Lives until the process exits, so no callback still queued on the loop outlives it.
  auto* service_default = new mda::Verdict;
  auto init = [service_default, program](server::Context& ctx) -> Result<void> {
    if (!ctx.args.empty()) return Err("unexpected command-line argument: " + ctx.args[0]);
    auto v = error_agent::ServiceDefault(program, ctx.service);
    if (!v) return Err(v.error());
    *service_default = *v;
    return {};
  };
  auto deliver = [service_default](ipc::DeliveryRequest r) { return error_agent::Deliver(*service_default, r); };
  return server::RunDeliveryAgent(program, argc, argv, {init, deliver, nullptr});
}
