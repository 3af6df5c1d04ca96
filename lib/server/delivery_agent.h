// server/delivery_agent.h — the agent side of qmgr's delivery protocol for
// agents that deliver synchronously (local, pipe, virtual, error): each request on
// the connection (delivery_conn.h) goes to the handler, whose results are answered
// with the end frame; the connection then waits for the next request.
#pragma once

#include <functional>
#include <vector>

#include "postern/ipc/delivery.h"
#include "postern/server/server.h"

namespace postern::server {

// Returns one result per recipient of the request (any order).
using DeliveryHandler = std::function<std::vector<ipc::DeliveryResult>(ipc::DeliveryRequest)>;

// Serves one qmgr connection; a malformed request is logged and the
// connection dropped (qmgr then defers its recipients).
void ServeDeliveryRequest(Client client, DeliveryHandler handler);

// The main() of such an agent (local, pipe, virtual, error): a kSingle
// service whose every client is served by ServeDeliveryRequest. `on_runtime` is
// optional (`postern set option`).
struct DeliveryAgent {
  std::function<Result<void>(Context&)> init;
  DeliveryHandler deliver;
  std::function<void(Context&, const ipc::control::RuntimeState& old)> on_runtime;
};
int RunDeliveryAgent(std::string_view program, int argc, char** argv, DeliveryAgent agent);

// RunDeliveryAgent for an agent whose state is one `State` that lives until
// the process exits (so no callback still queued on the loop outlives it):
// init(ctx, &state), deliver(state, request), adopt(ctx, old, &state).
template <class State, class Init, class Deliver, class Adopt>
int RunAgentWithState(std::string_view program, int argc, char** argv, Init init, Deliver deliver, Adopt adopt) {
  auto* state = new State;
  return RunDeliveryAgent(
      program, argc, argv,
      {[state, init](Context& ctx) { return init(ctx, state); },
       [state, deliver](ipc::DeliveryRequest r) { return deliver(*state, std::move(r)); },
       [state, adopt](Context& ctx, const ipc::control::RuntimeState& old) { adopt(ctx, old, state); }});
}

}  // namespace postern::server
