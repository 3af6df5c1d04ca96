// smtp/main.cc — the smtp delivery agent, also run as lmtp (the same binary
// under the name lmtp speaks LMTP): wiring only; see smtp(8).
#include <cstring>
#include <string_view>

#include "postern/log/log.h"
#include "postern/server/server.h"
#include "postern/stats/recorder.h"
#include "smtp/delivery.h"

using namespace postern;

int main(int argc, char** argv) {
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
    worker->ctx = &ctx;
    auto settings = smtp_client::Settings::Load(ctx.config, lmtp);
    if (!settings) return Err(settings.error());
    worker->settings = std::move(*settings);
    const auto& s = worker->settings;
    if (!s.bind_address.empty()) {
      auto ip = dns::IpAddress::Parse(s.bind_address);
      if (!ip) return Err(std::string(lmtp ? "lmtp" : "smtp") + "_bind_address: not an IP address: " + s.bind_address);
      worker->bind = *ip;
    }
    auto opts = queue::OptionsFromConfig(ctx.config);
    if (!opts.ok()) return Err(opts.status().message);
    auto q = queue::Queue::Open(s.queue_directory, *opts);
    if (!q.ok()) return Err("queue " + s.queue_directory + ": " + q.status().message);
    worker->queue = std::move(*q);
    auto ropts = dns::ResolverOptions::FromConfig(ctx.config);
    if (!ropts) return Err(ropts.error());
    auto res = dns::Resolver::Create(ctx.loop, *ropts);
    if (!res) return Err(res.error());
    worker->resolver = std::move(*res);
    worker->cache = std::make_unique<smtp_client::Cache>(ctx.loop, s.cache_time_ms, s.reuse_time_ms, s.quit_ms);
    stats::StartRecorder(ctx.loop, ctx.config);  // connection cache hits and misses
    auto sasl = smtp_client::SaslClient::Load(ctx.config, lmtp);
    if (!sasl) return Err(sasl.error());
    worker->sasl = std::move(*sasl);
    auto tls = smtp_client::TlsClient::Load(ctx.config, lmtp, std::move(tls_creds));
    if (!tls) return Err(tls.error());
    worker->tls = std::move(*tls);
    auto generic = smtp_client::Generic::Load(ctx.config, lmtp);
    if (!generic) return Err(generic.error());
    worker->generic = std::move(*generic);
    return {};
  };
  svc.on_client = [&](server::Context&, server::Client c) {
    std::make_shared<smtp_client::Delivery>(*worker, std::move(c))->Start();
  };
  svc.on_drain = [&](server::Context&) { worker->cache->CloseAll(); };
  return server::Run(program, argc, argv, std::move(svc));
}
