// smtpd/main.cc — the SMTP server worker: wiring only. One process serves
// many sessions on its loop (server::Kind::kMulti); see smtpd(8).
#include "postern/dns/resolver.h"
#include "postern/log/log.h"
#include "postern/queue/queue.h"
#include "postern/server/server.h"
#include "postern/stats/recorder.h"
#include "postern/util/fd_limit.h"
#include "smtpd/session.h"

using namespace postern;

namespace {

// Sessions one process takes before it stops accepting and lets master start
// another worker: what the descriptor limit allows, minus a reserve for the
// queue, the listeners and lookup tables. The soft limit is raised to the
// hard one first: one process is meant to hold thousands of sessions.
size_t SessionLimit() { return DescriptorBudget(64, true); }

// The process's one resolver (dns_servers): client names, DNS restrictions,
// host names in network lists. Lives as long as the process; null (with one
// warning) when it cannot be made, and then every lookup fails temporarily.
dns::Resolver* ProcessResolver(server::Context& ctx) {
  static std::unique_ptr<dns::Resolver> resolver;
  static bool tried = false;
  if (tried) return resolver.get();
  tried = true;
  auto opts = dns::ResolverOptions::FromConfig(ctx.config);
  if (!opts) return log::Warning("DNS lookups are not possible: {}", opts.error()), nullptr;
  auto r = dns::Resolver::Create(ctx.loop, *opts);
  if (!r) return log::Warning("DNS lookups are not possible: {}", r.error()), nullptr;
  resolver = std::move(*r);
  return resolver.get();
}

// Host names in mynetworks and the exclusion lists: resolved on the loop
// (dns_servers), as Postfix matches them; until then such a list cannot say
// "no" and permit_mynetworks answers 451 4.3.5 to clients nothing else matched.
void ResolveNetworkHosts(server::Context& ctx, smtpd::Settings& s, smtpd::NetworkList* mynetworks) {
  std::pair<smtpd::NetworkList*, const char*> lists[] = {
      {mynetworks, "mynetworks"},
      {&s.event_limit_exceptions, "smtpd_client_event_limit_exceptions"},
      {&s.bare_lf_exclusions, "smtpd_forbid_bare_newline_exclusions"}};
  for (auto [list, param] : lists) {
    if (!list || !list->has_hosts()) continue;
    dns::Resolver* resolver = ProcessResolver(ctx);
    if (!resolver) return log::Warning("{}: host names cannot be resolved", param);
    list->ResolveHosts(resolver, param);
  }
}

}  // namespace

// The process's one policy cache, for check_greylist, check_message_limits
// and the greeting delay's dumb: records, opened once the restrictions or the
// settings (also after `postern set option`) need it; a cache that cannot be
// opened is named once: policy_cache_failure_action applies and early talkers
// are not remembered.
// With Redis the anvil rates are kept there too (shared by MX hosts).
void OpenPolicyCache(server::Context& ctx, smtpd::Service& service) {
  const smtpd::Settings& st = service.settings();
  bool shared_rates = st.abuse.AnyRate() && cache::IsRedis(ctx.config.Str("policy_cache_database"));
  if (!service.cache() && (service.policy().uses_cache() || st.abuse.GreetDelayed() || shared_rates)) {
    auto opts = cache::OptionsFromConfig(ctx.config);
    auto c = opts ? cache::Open(ctx.loop, *opts) : Result<std::unique_ptr<cache::Cache>>(Err(opts.error()));
    if (c) service.SetCache(std::move(*c));
    else log::Warning("policy cache: {}; applying policy_cache_failure_action", c.error());
  }
  if (shared_rates && service.cache()) service.guard().Share(service.cache());
}

int main(int argc, char** argv) {
  // Lives until the process exits (the skeleton ends it with exit()), so
  // that no callback still queued on the loop can outlive it.
  smtpd::Service* service = nullptr;
  server::Service svc;
  svc.kind = server::Kind::kMulti;
  svc.client_limit = SessionLimit();
  svc.pausable = true;  // `postern pause smtp` stops new sessions
  // Read as root (when started by a root master): a private key is often
  // mode 0600 owned by root. Kept for the life of the process.
  smtpd::ServerKeys keys;
  svc.privileged_init = [&](server::Context& ctx) -> Result<void> {
    auto k = smtpd::ServerKeys::Load(ctx.config);
    if (!k) return Err(k.error());
    keys = std::move(*k);
    return {};
  };
  svc.init = [&](server::Context& ctx) -> Result<void> {
    auto settings = smtpd::Settings::Load(ctx.config, &keys);
    if (!settings) return Err(settings.error());
    auto policy = smtpd::Policy::Load(ctx.config);
    if (!policy) return Err(policy.error());
    auto opts = queue::OptionsFromConfig(ctx.config);
    if (!opts.ok()) return Err(opts.status().message);
    auto q = queue::Queue::Open(settings->queue_directory, *opts);
    if (!q.ok()) return Err("queue " + settings->queue_directory + ": " + q.status().message);
    auto auth = smtpd::Authenticator::Load(ctx.config, ctx.loop);
    if (!auth) return Err(auth.error());
    stats::StartRecorder(ctx.loop, ctx.config);
    ResolveNetworkHosts(ctx, *settings, &(*policy)->mynetworks());
    auto cl = cleanup::Cleanup::FromConfig(ctx.config, q->get());
    if (!cl) return Err(cl.error());
    service = new smtpd::Service(ctx, std::move(*settings), std::move(*policy), std::move(*q), std::move(*cl));
    service->SetAuth(std::move(*auth));
    service->SetResolver(ProcessResolver(ctx));
    OpenPolicyCache(ctx, *service);
    return {};
  };
  svc.on_runtime = [&](server::Context& ctx, const ipc::control::RuntimeState& old) {
    if (!service || ctx.runtime.options == old.options) return;
    for (const auto& [k, v] : ctx.runtime.options) ctx.config.Override(k, v);
    auto settings = smtpd::Settings::Load(ctx.config, &keys);
    if (!settings) return log::Warning("set option: {}; keeping the previous settings", settings.error());
    ResolveNetworkHosts(ctx, *settings, nullptr);
    service->Reconfigure(std::move(*settings));
    OpenPolicyCache(ctx, *service);
  };
  svc.on_client = [&](server::Context&, server::Client c) { service->Accept(std::move(c)); };
  return server::Run("smtpd", argc, argv, std::move(svc));
}
