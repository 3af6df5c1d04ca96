// smtp/main.cc — the smtp delivery agent, also run as lmtp (the same binary
// under the name lmtp speaks LMTP): wiring only; see smtp(8).
#include <cstring>
#include <string_view>

#include "postern/log/log.h"
#include "postern/server/server.h"
#include "smtp/delivery.h"
#include "smtp/send.h"

using namespace postern;

int main(int argc, char** argv) {
  // `postern send` runs this program as `smtp send ...` (send.h).
  if (argc > 1 && std::string_view(argv[1]) == "send") return smtp_client::SendMain(argc - 1, argv + 1);
  std::string_view self = argc > 0 ? argv[0] : "smtp";
  if (auto slash = self.rfind('/'); slash != std::string_view::npos) self.remove_prefix(slash + 1);
  const bool lmtp = self == "lmtp";
  const char* program = lmtp ? "lmtp" : "smtp";
  // Lives until the process exits, so no callback still queued on the loop outlives it.
  auto* worker = new smtp_client::Worker;
  server::Service svc;
  svc.kind = server::Kind::kSingle;
  std::shared_ptr<tls::Credentials> tls_creds;
  svc.privileged_init = [&](server::Context& ctx) -> Result<void> {
    auto c = smtp_client::TlsClient::LoadCredentials(ctx.config, lmtp);
    if (!c) return Err(c.error());
    tls_creds = std::move(*c);
    return {};
  };
  svc.init = [&](server::Context& ctx) -> Result<void> {
    return smtp_client::InitWorker(worker, ctx, lmtp, std::move(tls_creds), true);
  };
  svc.on_client = [&](server::Context&, server::Client c) {
    // Requests one after another on qmgr's connection, one Delivery each.
    server::DeliveryConn::Serve(std::move(c), [worker](std::shared_ptr<server::DeliveryConn> qmgr,
                                                       ipc::DeliveryRequest req) {
      std::make_shared<smtp_client::Delivery>(*worker, std::move(qmgr), std::move(req))->Start();
    });
  };
  svc.on_drain = [&](server::Context&) { worker->cache->CloseAll(); };
  return server::Run(program, argc, argv, std::move(svc));
}
