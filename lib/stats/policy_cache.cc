// stats/policy_cache.cc — choosing and opening the policy cache's backend from
// main.cf, and the LMDB backend, which answers every request inline.
#include "postern/stats/policy_cache.h"

#include <algorithm>
#include <ctime>

#include "postern/stats/redis_cache.h"
#include "postern/util/strings.h"

namespace postern::cache {

namespace {

class LmdbCache final : public Cache {
 public:
  LmdbCache(std::unique_ptr<stats::PolicyCache> db, std::string path)
      : db_(std::move(db)), name_("lmdb:" + std::move(path)) {}

  void Get(std::string key, GetCallback cb) override { cb(db_->Get(key, std::time(nullptr))); }
  void Put(std::string key, std::string value, uint64_t ttl, DoneCallback cb) override {
    auto r = db_->Put(key, value, ttl, std::time(nullptr));
    cb(r ? Result<bool>(true) : Result<bool>(Err(r.error())));
  }
  void Delete(std::string key, DoneCallback cb) override { cb(db_->Delete(key, std::time(nullptr))); }
  void Hit(std::string key, std::string value_if_new, uint64_t ttl, HitCallback cb) override {
    cb(db_->Hit(key, value_if_new, ttl, std::time(nullptr)));
  }
  void List(std::string prefix, ListCallback cb) override { cb(db_->List(prefix, std::time(nullptr))); }
  void Sweep(std::function<void(Result<size_t>)> cb) override { cb(db_->Sweep(std::time(nullptr))); }
  const std::string& name() const override { return name_; }

 private:
  std::unique_ptr<stats::PolicyCache> db_;
  std::string name_;
};

// "db=N" in the query part of a redis: name.
Result<void> ParseQuery(std::string_view q, RedisTarget* t) {
  for (const std::string& item : SplitList(q, "&")) {
    unsigned long long n = 0;
    if (item.rfind("db=", 0) == 0 && ParseUnsigned(std::string_view(item).substr(3), &n) && n < 1000) {
      t->db = int(n);
      continue;
    }
    return Err("unknown option \"" + item + "\" (known: db=N)");
  }
  return {};
}

}  // namespace

bool IsRedis(std::string_view database) { return database.rfind("redis:", 0) == 0; }

Result<RedisTarget> ParseRedisTarget(std::string_view database) {
  if (!IsRedis(database)) return Err("not a redis: database");
  std::string_view rest = database.substr(6);
  RedisTarget t;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    if (auto r = ParseQuery(rest.substr(q + 1), &t); !r) return Err(std::string(database) + ": " + r.error());
    rest = rest.substr(0, q);
  }
  if (rest.rfind("unix:", 0) == 0) {
    t.socket = std::string(rest.substr(5));
    if (t.socket.empty() || t.socket[0] != '/') return Err(std::string(database) + ": a unix socket needs an absolute path");
    return t;
  }
  std::string_view port;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return Err(std::string(database) + ": missing ']'");
    t.host = std::string(rest.substr(1, close - 1));
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return Err(std::string(database) + ": expected :PORT after ']'");
      port = rest.substr(close + 2);
    }
  } else {
    size_t colon = rest.find(':');
    t.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port = rest.substr(colon + 1);
  }
  if (t.host.empty()) return Err(std::string(database) + ": no host (redis:HOST:PORT or redis:unix:/path)");
  unsigned long long p = 0;
  if (!port.empty() && (!ParseUnsigned(port, &p) || p == 0 || p > 65535))
    return Err(std::string(database) + ": bad port \"" + std::string(port) + "\"");
  if (p) t.port = int(p);
  return t;
}

Result<Options> OptionsFromConfig(const config::Config& cfg) {
  Options o;
  auto db = cfg.Get("policy_cache_database");
  if (!db) return Err(db.error());
  if (db->empty()) return Err("policy_cache_database is empty");
  o.database = *db;
  auto pw = cfg.Get("policy_cache_redis_password");
  if (!pw) return Err(pw.error());
  o.redis_password = *pw;
  auto t = cfg.GetTime("policy_cache_timeout");
  if (!t) return Err(t.error());
  o.timeout = std::max(std::chrono::milliseconds(100), std::chrono::milliseconds(*t));
  return o;
}

Result<bool> DeferOnFailure(const config::Config& cfg) {
  auto a = cfg.Get("policy_cache_failure_action");
  if (!a) return Err(a.error());
  std::string action = ToLower(Trim(*a));
  if (action == "dunno") return false;
  if (action == "defer") return true;
  return Err("policy_cache_failure_action: \"" + *a + "\" is neither dunno nor defer");
}

Result<std::unique_ptr<Cache>> Open(uv_loop_t* loop, const Options& o) {
  if (IsRedis(o.database)) {
    auto target = ParseRedisTarget(o.database);
    if (!target) return Err(target.error());
    return OpenRedis(loop, *target, o);
  }
  auto db = stats::PolicyCache::Open(o.database);
  if (!db) return Err(db.error());
  return std::unique_ptr<Cache>(new LmdbCache(std::move(*db), o.database));
}

}  // namespace postern::cache
