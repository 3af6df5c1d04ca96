// stats/policy_cache.h — the policy cache as one asynchronous interface over two
// backends: LMDB ($policy_cache_database a path; completes inline) and Redis
// ("redis:HOST:PORT" or "redis:unix:/path", on the libuv loop, never blocking).
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "postern/config/maincf.h"
#include "postern/stats/cache.h"
#include "postern/util/result.h"

namespace postern::cache {

using Record = stats::CacheRecord;
using Listing = std::vector<std::pair<std::string, Record>>;

using GetCallback = std::function<void(Result<std::optional<Record>>)>;
using HitCallback = std::function<void(Result<Record>)>;
using DoneCallback = std::function<void(Result<bool>)>;
using ListCallback = std::function<void(Result<Listing>)>;

// Every operation answers exactly once through its callback, on the loop's
// thread: at once (LMDB, or a Redis known to be down) or later. An error
// means the cache could not answer; callers apply policy_cache_failure_action.
// A callback never runs after the Cache is destroyed.
class Cache {
 public:
  virtual ~Cache() = default;
  virtual void Get(std::string key, GetCallback cb) = 0;
  // Stores value (ttl seconds, 0: never expires); a live record keeps its
  // hits and created. The callback's bool is true.
  virtual void Put(std::string key, std::string value, uint64_t ttl, DoneCallback cb) = 0;
  // True when the key was there.
  virtual void Delete(std::string key, DoneCallback cb) = 0;
  // Counts one hit, creating the record (value_if_new, ttl_if_new) when
  // missing, atomically; the record after the hit (hits == 1: just created).
  virtual void Hit(std::string key, std::string value_if_new, uint64_t ttl_if_new, HitCallback cb) = 0;
  // Live records whose key starts with prefix, in key order.
  virtual void List(std::string prefix, ListCallback cb) = 0;
  // Removes expired records (LMDB; Redis expires them itself): how many.
  virtual void Sweep(std::function<void(Result<size_t>)> cb) = 0;
  // "lmdb:/path" or "redis:127.0.0.1:6379", for log lines.
  virtual const std::string& name() const = 0;
};

// Where the cache lives and how to talk to it.
struct Options {
  std::string database;  // policy_cache_database
  std::string redis_password;  // policy_cache_redis_password
  std::chrono::milliseconds timeout{2000};  // policy_cache_timeout: one Redis request
};

// A parsed "redis:..." database name: "redis:HOST[:PORT][?db=N]",
// "redis:[V6ADDR]:PORT", "redis:unix:/path[?db=N]".
struct RedisTarget {
  std::string host;  // empty for a unix socket
  int port = 6379;
  std::string socket;
  int db = 0;
};
bool IsRedis(std::string_view database);
Result<RedisTarget> ParseRedisTarget(std::string_view database);

Result<Options> OptionsFromConfig(const config::Config& cfg);
// Opens the backend the database name asks for; the Redis backend connects
// lazily on the first request (and again after a failure).
Result<std::unique_ptr<Cache>> Open(uv_loop_t* loop, const Options& o);

// The failure action (policy_cache_failure_action): true for defer.
Result<bool> DeferOnFailure(const config::Config& cfg);

}  // namespace postern::cache
