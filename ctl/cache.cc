// ctl/cache.cc — `postern cache get|put|delete|list|sweep` on the policy
// cache ($policy_cache_database: LMDB or Redis, through lib/stats/policy_cache.h): what the
// anti-abuse checks read, inspected and edited by hand; --json for scripts.
#include <uv.h>

#include <cstdio>
#include <ctime>

#include <fmt/format.h>

#include "ctl/tools.h"
#include "postern/stats/policy_cache.h"
#include "postern/config/values.h"
#include "postern/log/log.h"
#include "postern/util/strings.h"

namespace postern::ctl {

namespace {

// A private loop for one request: the Redis backend answers on it.
class Loop {
 public:
  Loop() { uv_loop_init(&loop_); }
  ~Loop() {
    uv_run(&loop_, UV_RUN_DEFAULT);  // lets closed handles finish
    uv_loop_close(&loop_);
  }
  uv_loop_t* get() { return &loop_; }
  void Run() { uv_run(&loop_, UV_RUN_DEFAULT); }

 private:
  uv_loop_t loop_;
};

// Splits off a --json flag anywhere among the arguments.
bool TakeJson(std::vector<std::string>* args) {
  bool json = false;
  std::erase_if(*args, [&](const std::string& a) { return a == "--json" ? (json = true) : false; });
  return json;
}

std::string Time(std::time_t t) {
  if (!t) return "-";
  char buf[32];
  std::tm tm{};
  localtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return buf;
}

std::string Json(const std::string& key, const cache::Record& r) {
  return fmt::format("{{\"key\": {}, \"value\": {}, \"hits\": {}, \"created\": {}, \"touched\": {}, \"expires\": {}}}",
                     JsonString(key), JsonString(r.value), r.hits, r.created, r.touched, r.expires);
}

// smtpf's cache listing: key, value, hits, created, touched, expires.
std::string Line(const std::string& key, const cache::Record& r) {
  return fmt::format("{}|{}|{}|{}|{}|{}", key, r.value, r.hits, Time(r.created), Time(r.touched), Time(r.expires));
}

// Opens the cache on loop, runs fn(cache, done) and the loop until fn's
// request has answered; one error line and status 1 on failure.
template <class F>
int WithCache(Context& ctx, size_t min_args, size_t max_args, const char* usage, F fn) {
  bool json = TakeJson(&ctx.args);
  if (ctx.args.size() < min_args || ctx.args.size() > max_args) {
    log::Error("usage: postern {}", usage);
    return 1;
  }
  auto opts = cache::OptionsFromConfig(ctx.cfg);
  if (!opts) return log::Error("policy cache: {}", opts.error()), 1;
  Loop loop;
  auto c = cache::Open(loop.get(), *opts);
  if (!c) return log::Error("policy cache: {}", c.error()), 1;
  int status = 1;
  bool finished = false;
  fn(**c, json, [&](int s) {
    status = s;
    finished = true;
    uv_stop(loop.get());  // a Redis connection stays open
  });
  if (!finished) loop.Run();
  c->reset();
  return status;
}

int Failed(const std::string& why) {
  log::Error("policy cache: {}", why);
  return 1;
}

int Get(Context& ctx) {
  const char* usage = "cache get KEY [--json]";
  return WithCache(ctx, 1, 1, usage, [&](cache::Cache& c, bool json, auto done) {
    std::string key = ctx.args[0];
    c.Get(key, [key, json, done](Result<std::optional<cache::Record>> r) {
      if (!r) return done(Failed(r.error()));
      if (!*r) return log::Error("cache: {}: not found", key), done(1);
      std::printf("%s\n", json ? Json(key, **r).c_str() : (*r)->value.c_str());
      done(0);
    });
  });
}

int Put(Context& ctx) {
  return WithCache(ctx, 2, 3, "cache put KEY VALUE [TTL]", [&](cache::Cache& c, bool, auto done) {
    uint64_t ttl = 0;
    if (ctx.args.size() == 3) {
      auto t = config::ParseTime(ctx.args[2]);
      if (!t || t->count() <= 0) {
        log::Error("cache put: bad time to live \"{}\" (e.g. 3600, 30m, 1d)", ctx.args[2]);
        return done(1);
      }
      ttl = uint64_t(t->count());
    }
    c.Put(ctx.args[0], ctx.args[1], ttl, [done](Result<bool> r) { done(r ? 0 : Failed(r.error())); });
  });
}

int Delete(Context& ctx) {
  return WithCache(ctx, 1, 1, "cache delete KEY", [&](cache::Cache& c, bool, auto done) {
    std::string key = ctx.args[0];
    c.Delete(key, [key, done](Result<bool> r) {
      if (!r) return done(Failed(r.error()));
      if (!*r) return log::Error("cache: {}: not found", key), done(1);
      done(0);
    });
  });
}

// KIND is a key's prefix before ':' ("grey", "msg-limit", "rcpt"); none: all.
int List(Context& ctx) {
  return WithCache(ctx, 0, 1, "cache list [KIND] [--json]", [&](cache::Cache& c, bool json, auto done) {
    std::string prefix = ctx.args.empty() ? "" : ctx.args[0];
    if (!prefix.empty() && prefix.back() != ':') prefix += ':';
    c.List(prefix, [json, done](Result<cache::Listing> r) {
      if (!r) return done(Failed(r.error()));
      std::string out = json ? "[" : "";
      for (size_t i = 0; i < r->size(); ++i) {
        const auto& [key, rec] = (*r)[i];
        out += json ? (i ? ",\n " : "") + Json(key, rec) : Line(key, rec) + "\n";
      }
      if (json) out += "]\n";
      std::fwrite(out.data(), 1, out.size(), stdout);
      done(std::fflush(stdout) == 0 ? 0 : 1);
    });
  });
}

int Sweep(Context& ctx) {
  return WithCache(ctx, 0, 0, "cache sweep", [&](cache::Cache& c, bool, auto done) {
    c.Sweep([done](Result<size_t> r) {
      if (!r) return done(Failed(r.error()));
      std::printf("%zu expired entr%s removed\n", *r, *r == 1 ? "y" : "ies");
      done(0);
    });
  });
}

}  // namespace

const std::vector<Command>& CacheCommands() {
  static const std::vector<Command> commands = {
      {{"cache", "get"}, "KEY [--json]", "print the policy cache's value for KEY (--json: the whole record)", Get},
      {{"cache", "put"}, "KEY VALUE [TTL]", "store KEY=VALUE in the policy cache (expiring after TTL)", Put},
      {{"cache", "delete"}, "KEY", "remove KEY from the policy cache", Delete},
      {{"cache", "list"}, "[KIND] [--json]", "list the policy cache's records of one kind (grey, msg-limit, rcpt ...): key|value|hits|created|touched|expires", List},
      {{"cache", "sweep"}, "", "remove expired entries from the policy cache", Sweep},
  };
  return commands;
}

}  // namespace postern::ctl
