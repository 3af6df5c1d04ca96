// sts/resolver.cc — see resolver.h.
#include "postern/sts/resolver.h"

#include "postern/log/log.h"

namespace postern::sts {

namespace {
constexpr const char* kPath = "/.well-known/mta-sts.txt";
}

Result<Options> OptionsFromConfig(const config::Config& cfg) {
  Options o;
  auto ca = cfg.Get("mta_sts_CAfile");
  if (!ca) return Err(ca.error());
  o.ca_file = *ca;
  auto port = cfg.GetInt("mta_sts_port");
  if (!port) return Err(port.error());
  if (*port < 1 || *port > 65535) return Err("mta_sts_port: not a port number: " + std::to_string(*port));
  o.port = uint16_t(*port);
  auto t = cfg.GetTime("mta_sts_timeout");
  if (!t) return Err(t.error());
  o.timeout_ms = std::max<uint64_t>(1000, uint64_t(t->count()) * 1000);
  return o;
}

Result<std::unique_ptr<Resolver>> Resolver::Create(uv_loop_t* loop, dns::Resolver* dns, const config::Config& cfg) {
  auto o = OptionsFromConfig(cfg);
  if (!o) return Err(o.error());
  auto creds = tls::Credentials::WebPki(o->ca_file);
  if (!creds) return Err("mta_sts_CAfile: " + creds.error());
  auto prio_text = tls::PriorityString(">=TLSv1.2", "medium");
  if (!prio_text) return Err(prio_text.error());
  auto prio = tls::Priority::Parse(*prio_text);
  if (!prio) return Err(prio.error());
  auto copts = cache::OptionsFromConfig(cfg);
  if (!copts) return Err(copts.error());
  auto c = cache::Open(loop, *copts);
  if (!c) return Err("MTA-STS policy cache: " + c.error());
  auto r = std::make_unique<Resolver>();
  r->loop_ = loop;
  r->dns_ = dns;
  r->cache_ = std::move(*c);
  r->o_ = *o;
  r->tls_.role = tls::Role::kClient;
  r->tls_.creds = std::move(*creds);
  r->tls_.priority = std::move(*prio);
  return r;
}

std::shared_ptr<Query> Resolver::Lookup(std::string domain, std::function<void(Verdict)> done) {
  auto q = std::make_shared<Query>(this, std::move(domain), std::move(done));
  q->Start();
  return q;
}

Query::Query(Resolver* r, std::string domain, std::function<void(Verdict)> done)
    : r_(r), domain_(std::move(domain)), done_(std::move(done)) {}

Query::~Query() {
  *alive_ = false;
  if (fetch_) fetch_->Cancel();
}

void Query::Start() {
  std::weak_ptr<Query> weak = weak_from_this();
  ticket_ = r_->dns_->LookupTxt("_mta-sts." + domain_, [weak](dns::TxtResult t) {
    if (auto self = weak.lock()) self->OnTxt(std::move(t));
  });
}

void Query::OnTxt(dns::TxtResult t) {
  if (t.outcome.ok()) {
    auto id = ParseTxtId(t.records);
    if (id) txt_id_ = std::move(*id);
    else log::Info("MTA-STS: _mta-sts.{}: {}", domain_, id.error());
  } else if (t.outcome.temporary()) {
    log::Info("MTA-STS: TXT lookup of _mta-sts.{}: {}", domain_, t.outcome.reason);
  }
  std::weak_ptr<Query> weak = weak_from_this();
  std::shared_ptr<bool> alive = alive_;
  // The LMDB backend answers inside the call, Redis later: either way through `weak`.
  r_->cache_->Get("sts:" + domain_, [weak, alive](Result<std::optional<cache::Record>> r) {
    if (!*alive) return;
    if (auto self = weak.lock()) self->OnCached(std::move(r));
  });
}

void Query::OnCached(Result<std::optional<cache::Record>> r) {
  if (!r) log::Warning("MTA-STS: policy cache lookup of sts:{}: {}", domain_, r.error());
  if (r && r->has_value()) {
    auto p = Decode((*r)->value, &cached_id_);
    if (p) cached_ = std::move(*p);
    else log::Warning("MTA-STS: cached policy of {}: {}", domain_, p.error());
  }
  if (!txt_id_) {
    // RFC 8461 §5.1: without a (valid) TXT record a cached policy still applies.
    if (cached_) return Done(cached_, cached_id_, "cached; no TXT record");
    return Done(std::nullopt, "", "no TXT record");
  }
  if (cached_ && cached_id_ == *txt_id_) return Done(cached_, cached_id_, "cached");
  Fetch();
}

void Query::Fetch() {
  http::GetOptions o;
  o.host = "mta-sts." + domain_;
  o.port = r_->o_.port;
  o.path = kPath;
  o.tls = r_->tls_;
  o.timeout_ms = r_->o_.timeout_ms;
  o.limits.max_body = kMaxPolicy;
  std::weak_ptr<Query> weak = weak_from_this();
  fetch_ = http::HttpsGet::Start(r_->loop_, r_->dns_, std::move(o), [weak](Result<http::Response> r) {
    if (auto self = weak.lock()) self->OnFetched(std::move(r));
  });
}

void Query::OnFetched(Result<http::Response> r) {
  Result<Policy> p = r ? ParsePolicy(r->body) : Result<Policy>(Err(r.error()));
  if (r && p && r->content_type != "text/plain")
    p = Err("policy served as \"" + r->content_type + "\", not text/plain");
  if (!p) {
    log::Warning("MTA-STS: policy fetch for {} failed: {}", domain_, p.error());
    // RFC 8461 §5.1: a cached, unexpired policy stays in force.
    if (cached_) return Done(cached_, cached_id_, "cached; fetch failed");
    return Done(std::nullopt, "", "fetch failed");
  }
  std::string id = *txt_id_;
  r_->cache_->Put("sts:" + domain_, Encode(*p, id), p->max_age, [domain = domain_](Result<bool> put) {
    if (!put) log::Warning("MTA-STS: cannot cache the policy of {}: {}", domain, put.error());
  });
  Done(std::move(*p), id, "fetched");
}

void Query::Done(std::optional<Policy> p, std::string id, std::string source) {
  if (!done_) return;
  auto done = std::move(done_);
  done_ = nullptr;
  done(Verdict{std::move(p), std::move(id), std::move(source)});
}

}  // namespace postern::sts
