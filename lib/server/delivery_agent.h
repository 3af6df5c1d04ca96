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

}  // namespace postern::server
