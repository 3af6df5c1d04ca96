// server/delivery_agent.cc — synchronous delivery agents on DeliveryConn; see delivery_agent.h.
#include "postern/server/delivery_agent.h"

#include <memory>

#include "postern/server/delivery_conn.h"

namespace postern::server {

void ServeDeliveryRequest(Client client, DeliveryHandler handler) {
  DeliveryConn::Serve(std::move(client), [handler = std::move(handler)](std::shared_ptr<DeliveryConn> conn,
                                                                       ipc::DeliveryRequest req) {
    conn->Finish(handler(std::move(req)));
  });
}

int RunDeliveryAgent(std::string_view program, int argc, char** argv, DeliveryAgent agent) {
  Service svc;
  svc.kind = Kind::kSingle;
  svc.init = std::move(agent.init);
  svc.on_client = [deliver = std::move(agent.deliver)](Context&, Client c) { ServeDeliveryRequest(std::move(c), deliver); };
  svc.on_runtime = std::move(agent.on_runtime);
  return Run(program, argc, argv, std::move(svc));
}

}  // namespace postern::server
