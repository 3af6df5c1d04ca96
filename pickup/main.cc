// pickup/main.cc — the pickup worker: wiring only. A trigger service (master
// wakes it every 60 s, sendmail after each maildrop write) that moves the
// maildrop into the queue at start and on every wakeup; see pickup(8).
#include "pickup/pickup.h"
#include "postern/log/log.h"
#include "postern/queue/queue.h"
#include "postern/server/server.h"

using namespace postern;

int main(int argc, char** argv) {
  // Lives until the process exits (the skeleton ends it with exit()).
  pickup::Pickup* service = nullptr;
  server::Service svc;
  svc.kind = server::Kind::kTrigger;
  svc.init = [&](server::Context& ctx) -> Result<void> {
    auto opts = queue::OptionsFromConfig(ctx.config);
    if (!opts.ok()) return Err(opts.status().message);
    std::string qdir = ctx.config.Str("queue_directory");
    auto q = queue::Queue::Open(qdir, *opts);
    if (!q.ok()) return Err("queue " + qdir + ": " + q.status().message);
    service = new pickup::Pickup(ctx.config, std::move(*q));
    if (auto r = service->Prepare(); !r) return r;
    service->Scan();  // what waited while the system was down
    return {};
  };
  svc.on_trigger = [&](server::Context&, std::string_view) { service->Scan(); };
  return server::Run("pickup", argc, argv, std::move(svc));
}
