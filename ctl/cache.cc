// ctl/cache.cc — `postern cache get|put|delete|sweep` on the policy cache
// database ($policy_cache_database): what the anti-abuse checks will read,
// inspected and edited by hand.
#include <cstdio>
#include <ctime>

#include "ctl/tools.h"
#include "postern/config/values.h"
#include "postern/log/log.h"
#include "postern/stats/cache.h"

namespace postern::ctl {

namespace {

Result<std::unique_ptr<stats::PolicyCache>> OpenCache(Context& ctx) {
  auto path = ctx.cfg.Get("policy_cache_database");
  if (!path) return Err(path.error());
  if (path->empty()) return Err("policy_cache_database is empty");
  return stats::PolicyCache::Open(*path);
}

// Runs fn on the open cache; one error line and status 1 on failure.
template <class F>
int WithCache(Context& ctx, size_t min_args, size_t max_args, const char* usage, F fn) {
  if (ctx.args.size() < min_args || ctx.args.size() > max_args) {
    log::Error("usage: postern {}", usage);
    return 1;
  }
  auto cache = OpenCache(ctx);
  if (!cache) {
    log::Error("policy cache: {}", cache.error());
    return 1;
  }
  return fn(**cache);
}

int Get(Context& ctx) {
  return WithCache(ctx, 1, 1, "cache get KEY", [&](stats::PolicyCache& c) {
    auto e = c.Get(ctx.args[0], std::time(nullptr));
    if (!e) return log::Error("policy cache: {}", e.error()), 1;
    if (!e->has_value()) return log::Error("cache: {}: not found", ctx.args[0]), 1;
    std::printf("%s\n", (*e)->value.c_str());
    return 0;
  });
}

int Put(Context& ctx) {
  return WithCache(ctx, 2, 3, "cache put KEY VALUE [TTL]", [&](stats::PolicyCache& c) {
    uint64_t ttl = 0;
    if (ctx.args.size() == 3) {
      auto t = config::ParseTime(ctx.args[2]);
      if (!t || t->count() <= 0) return log::Error("cache put: bad time to live \"{}\" (e.g. 3600, 30m, 1d)", ctx.args[2]), 1;
      ttl = uint64_t(t->count());
    }
    if (auto r = c.Put(ctx.args[0], ctx.args[1], ttl, std::time(nullptr)); !r)
      return log::Error("policy cache: {}", r.error()), 1;
    return 0;
  });
}

int Delete(Context& ctx) {
  return WithCache(ctx, 1, 1, "cache delete KEY", [&](stats::PolicyCache& c) {
    auto r = c.Delete(ctx.args[0], std::time(nullptr));
    if (!r) return log::Error("policy cache: {}", r.error()), 1;
    if (!*r) return log::Error("cache: {}: not found", ctx.args[0]), 1;
    return 0;
  });
}

int Sweep(Context& ctx) {
  return WithCache(ctx, 0, 0, "cache sweep", [&](stats::PolicyCache& c) {
    auto r = c.Sweep(std::time(nullptr));
    if (!r) return log::Error("policy cache: {}", r.error()), 1;
    std::printf("%zu expired entr%s removed\n", *r, *r == 1 ? "y" : "ies");
    return 0;
  });
}

}  // namespace

const std::vector<Command>& CacheCommands() {
  static const std::vector<Command> commands = {
      {{"cache", "get"}, "KEY", "print the policy cache's value for KEY", Get},
      {{"cache", "put"}, "KEY VALUE [TTL]", "store KEY=VALUE in the policy cache (expiring after TTL)", Put},
      {{"cache", "delete"}, "KEY", "remove KEY from the policy cache", Delete},
      {{"cache", "sweep"}, "", "remove expired entries from the policy cache", Sweep},
  };
  return commands;
}

}  // namespace postern::ctl
