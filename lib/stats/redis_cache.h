// stats/redis_cache.h — the policy cache on a Redis server through hiredis on the
// libuv loop: one connection per process, requests with a deadline, fail-fast
// while the server is down, reconnect without a restart; see policy_cache.h.
#pragma once

#include <uv.h>

#include <memory>

#include "postern/stats/policy_cache.h"

namespace postern::cache {

Result<std::unique_ptr<Cache>> OpenRedis(uv_loop_t* loop, const RedisTarget& target, const Options& o);

// For the unit tests: a record from HMGET's five fields (v h c t e); false
// unless it is one. Fields are nullptr where the reply had nil.
bool RecordFromFields(const std::string* fields[5], Record* out);
// A prefix as a SCAN MATCH pattern: glob characters escaped, then '*'.
std::string GlobPrefix(std::string_view prefix);

}  // namespace postern::cache
