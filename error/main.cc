// error/main.cc — the error(8) delivery agent, for master.cf's `error` and
// `retry` services: one qmgr delivery request per client, every recipient
// bounced (error) or deferred (retry) with the next hop as the reason. See error(8).
#include "error/deliver.h"
#include "postern/server/delivery_agent.h"

using namespace postern;

int main(int argc, char** argv) {
  // Lives until the process exits, so no callback still queued on the loop outlives it.
  auto* service_default = new mda::Verdict;
  auto init = [service_default](server::Context& ctx) -> Result<void> {
    if (!ctx.args.empty()) return Err("unexpected command-line argument: " + ctx.args[0]);
    auto v = error_agent::ServiceDefault(ctx.service);
    if (!v) return Err(v.error());
    *service_default = *v;
    return {};
  };
  auto deliver = [service_default](ipc::DeliveryRequest r) { return error_agent::Deliver(*service_default, r); };
  return server::RunDeliveryAgent("error", argc, argv, {init, deliver, nullptr});
}
