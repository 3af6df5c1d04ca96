// sts/resolver.h — finds the MTA-STS policy of a mail domain on the loop,
// never blocking it (RFC 8461 §5): the `_mta-sts` TXT id via c-ares, the
// policy from the policy cache (key "sts:DOMAIN", expiring after max_age)
// when its id is still the one published, else fetched over HTTPS from
// mta-sts.DOMAIN and cached. A failed fetch keeps using an unexpired
// cached policy; a domain without a TXT record keeps its cached policy too.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "postern/config/maincf.h"
#include "postern/dns/resolver.h"
#include "postern/http/client.h"
#include "postern/stats/policy_cache.h"
#include "postern/sts/policy.h"
#include "postern/util/result.h"

namespace postern::sts {

struct Options {
  std::string ca_file;          // mta_sts_CAfile; empty: the system trust store
  uint16_t port = 443;          // mta_sts_port (tests serve policies elsewhere)
  uint64_t timeout_ms = 10000;  // mta_sts_timeout: one whole fetch
};
Result<Options> OptionsFromConfig(const config::Config& cfg);

// What applies to a domain: a policy (any mode) or none, and where it came from.
struct Verdict {
  std::optional<Policy> policy;
  std::string id;
  std::string source;  // "fetched", "cached", "cached; fetch failed", ...
};

class Resolver;

// One lookup in progress; destroying it cancels the callback.
class Query : public std::enable_shared_from_this<Query> {
 public:
  Query(Resolver* r, std::string domain, std::function<void(Verdict)> done);
  ~Query();
  void Start();

 private:
  void OnTxt(dns::TxtResult r);
  void OnCached(Result<std::optional<cache::Record>> r);
  void Fetch();
  void OnFetched(Result<http::Response> r);
  void Done(std::optional<Policy> p, std::string id, std::string source);

  Resolver* r_;
  std::string domain_;
  std::function<void(Verdict)> done_;
  dns::Ticket ticket_;
  std::shared_ptr<http::HttpsGet> fetch_;
  std::optional<std::string> txt_id_;  // the published id; none: no (valid) record
  std::optional<Policy> cached_;
  std::string cached_id_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

class Resolver {
 public:
  // The trust anchors are read now (before the worker drops privileges).
  static Result<std::unique_ptr<Resolver>> Create(uv_loop_t* loop, dns::Resolver* dns, const config::Config& cfg);
  std::shared_ptr<Query> Lookup(std::string domain, std::function<void(Verdict)> done);

 private:
  friend class Query;
  uv_loop_t* loop_ = nullptr;
  dns::Resolver* dns_ = nullptr;
  std::unique_ptr<cache::Cache> cache_;
  Options o_;
  tls::Config tls_;
};

}  // namespace postern::sts
