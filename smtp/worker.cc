// smtp/worker.cc — what an smtp/lmtp process sets up once (settings, queue,
// resolver, connection cache, AUTH, TLS), shared by the worker that master
// runs (main.cc) and by postern send (send.cc).
#include "postern/stats/recorder.h"
#include "smtp/delivery.h"

namespace postern::smtp_client {

Result<void> InitWorker(Worker* w, server::Context& ctx, bool lmtp, std::shared_ptr<tls::Credentials> creds,
                        bool open_queue) {
  w->ctx = &ctx;
  auto settings = Settings::Load(ctx.config, lmtp);
  if (!settings) return Err(settings.error());
  w->settings = std::move(*settings);
  const auto& s = w->settings;
  if (!s.bind_address.empty()) {
    auto ip = dns::IpAddress::Parse(s.bind_address);
    if (!ip) return Err(std::string(lmtp ? "lmtp" : "smtp") + "_bind_address: not an IP address: " + s.bind_address);
    w->bind = *ip;
  }
  if (open_queue) {
    auto opts = queue::OptionsFromConfig(ctx.config);
    if (!opts.ok()) return Err(opts.status().message);
    auto q = queue::Queue::Open(s.queue_directory, *opts);
    if (!q.ok()) return Err("queue " + s.queue_directory + ": " + q.status().message);
    w->queue = std::move(*q);
  }
  auto ropts = dns::ResolverOptions::FromConfig(ctx.config);
  if (!ropts) return Err(ropts.error());
  w->settings.ipv4 = ropts->ipv4;
  w->settings.ipv6 = ropts->ipv6;
  auto res = dns::Resolver::Create(ctx.loop, *ropts);
  if (!res) return Err(res.error());
  w->resolver = std::move(*res);
  w->cache = std::make_unique<Cache>(ctx.loop, s.cache_time_ms, s.reuse_time_ms, s.quit_ms);
  w->cache->set_skip_quit_response(s.skip_quit_response);
  if (open_queue) stats::StartRecorder(ctx.loop, ctx.config);  // connection cache hits and misses
  auto sasl = SaslClient::Load(ctx.config, lmtp);
  if (!sasl) return Err(sasl.error());
  w->sasl = std::move(*sasl);
  auto tls = TlsClient::Load(ctx.config, lmtp, std::move(creds));
  if (!tls) return Err(tls.error());
  w->tls = std::move(*tls);
  if (w->tls && w->tls->sts()) {
    auto sts = sts::Resolver::Create(ctx.loop, w->resolver.get(), ctx.config);
    if (!sts) return Err("MTA-STS (sts: in " + std::string(lmtp ? "lmtp" : "smtp") + "_tls_policy_maps): " + sts.error());
    w->sts = std::move(*sts);
  }
  auto generic = Generic::Load(ctx.config, lmtp);
  if (!generic) return Err(generic.error());
  w->generic = std::move(*generic);
  return {};
}

}  // namespace postern::smtp_client
