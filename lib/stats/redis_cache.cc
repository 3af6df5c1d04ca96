// stats/redis_cache.cc — the Redis backend. A record is a hash (v value, h hits,
// c created, t touched, e expires) with a Redis TTL; Hit and Put are Lua
// scripts so that several MX hosts update one record atomically.
#include "postern/stats/redis_cache.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <string_view>

#include "postern/event/event.h"
#include "postern/log/log.h"
#include "postern/util/strings.h"

namespace postern::cache {

namespace {

constexpr uint64_t kRetryMs = 1000;        // no new connection sooner after a failure
constexpr uint64_t kLogEveryMs = 60000;    // one warning a minute while it lasts

constexpr std::string_view kHitScript = R"(local k=KEYS[1] local now=tonumber(ARGV[1]) local ttl=tonumber(ARGV[3])
if redis.call('EXISTS',k)==0 then
  local e=0 if ttl>0 then e=now+ttl end
  redis.call('HSET',k,'v',ARGV[2],'c',now,'e',e,'h',0)
  if ttl>0 then redis.call('EXPIREAT',k,e) end
end
redis.call('HSET',k,'t',now)
redis.call('HINCRBY',k,'h',1)
return redis.call('HMGET',k,'v','h','c','t','e'))";

constexpr std::string_view kPutScript = R"(local k=KEYS[1] local now=tonumber(ARGV[1]) local ttl=tonumber(ARGV[3])
if redis.call('EXISTS',k)==0 then redis.call('HSET',k,'c',now,'h',0) end
local e=0 if ttl>0 then e=now+ttl end
redis.call('HSET',k,'v',ARGV[2],'t',now,'e',e)
if ttl>0 then redis.call('EXPIREAT',k,e) else redis.call('PERSIST',k) end
return 1)";

constexpr std::string_view kListScript = R"(local out={} local cursor='0'
repeat
  local r=redis.call('SCAN',cursor,'MATCH',ARGV[1],'COUNT',1000) cursor=r[1]
  for _,k in ipairs(r[2]) do
    if redis.call('TYPE',k).ok=='hash' then
      local f=redis.call('HMGET',k,'v','h','c','t','e')
      if f[1] then table.insert(out,k) for i=1,5 do table.insert(out,f[i] or '0') end end
    end
  end
until cursor=='0'
return out)";

// hiredis on a uv_poll: Debian's hiredis 0.14 ships adapters/libuv.h, whose
// poll callback ignores a poll error, and libuv reports a refused connect as
// one: the request would wait for its deadline instead of failing at once.
// This is that adapter with hiredis 1.x's fix (an error runs the handlers,
// which find the socket's error).
struct UvEvents {
  redisAsyncContext* context;
  uv_poll_t handle;
  int events;
};

void UvPoll(uv_poll_t* handle, int status, int events) {
  auto* p = static_cast<UvEvents*>(handle->data);
  int ev = status ? p->events : events;
  if (p->context && (ev & UV_READABLE)) redisAsyncHandleRead(p->context);
  if (p->context && (ev & UV_WRITABLE)) redisAsyncHandleWrite(p->context);
}

void UvUpdate(void* privdata, int add, int del) {
  auto* p = static_cast<UvEvents*>(privdata);
  p->events = (p->events | add) & ~del;
  if (p->events) uv_poll_start(&p->handle, p->events, UvPoll);
  else uv_poll_stop(&p->handle);
}

void UvAddRead(void* d) { UvUpdate(d, UV_READABLE, 0); }
void UvDelRead(void* d) { UvUpdate(d, 0, UV_READABLE); }
void UvAddWrite(void* d) { UvUpdate(d, UV_WRITABLE, 0); }
void UvDelWrite(void* d) { UvUpdate(d, 0, UV_WRITABLE); }

void UvCleanup(void* privdata) {
  auto* p = static_cast<UvEvents*>(privdata);
  p->context = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), [](uv_handle_t* h) { delete static_cast<UvEvents*>(h->data); });
}

bool UvAttach(redisAsyncContext* ac, uv_loop_t* loop) {
  if (ac->ev.data) return false;
  auto* p = new UvEvents{ac, {}, 0};
  if (uv_poll_init(loop, &p->handle, ac->c.fd) != 0) {
    delete p;
    return false;
  }
  p->handle.data = p;
  ac->ev.addRead = UvAddRead;
  ac->ev.delRead = UvDelRead;
  ac->ev.addWrite = UvAddWrite;
  ac->ev.delWrite = UvDelWrite;
  ac->ev.cleanup = UvCleanup;
  ac->ev.data = p;
  return true;
}

bool Number(const std::string* s, uint64_t* out) {
  unsigned long long n = 0;
  if (!s) return false;
  if (!ParseUnsigned(*s, &n)) return false;
  *out = n;
  return true;
}

// A reply element as text (string, status or integer); nullopt for nil or anything else.
std::optional<std::string> Text(const redisReply* r) {
  if (!r) return std::nullopt;
  if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) return std::string(r->str, r->len);
  if (r->type == REDIS_REPLY_INTEGER) return std::to_string(r->integer);
  return std::nullopt;
}

// Record from five array elements starting at first; nullopt when nil (missing).
Result<std::optional<Record>> RecordAt(const redisReply* r, size_t first) {
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < first + 5) return Err("unexpected reply from Redis");
  std::optional<std::string> f[5];
  const std::string* p[5];
  for (size_t i = 0; i < 5; ++i) {
    f[i] = Text(r->element[first + i]);
    p[i] = f[i] ? &*f[i] : nullptr;
  }
  if (!p[0]) return std::optional<Record>();
  Record rec;
  if (!RecordFromFields(p, &rec)) return Err("a policy cache record in Redis is malformed");
  return std::optional<Record>(std::move(rec));
}

class RedisCache final : public Cache {
 public:
  RedisCache(uv_loop_t* loop, RedisTarget t, Options o)
      : loop_(loop), target_(std::move(t)), opts_(std::move(o)), timer_(loop) {
    name_ = target_.socket.empty() ? "redis:" + target_.host + ":" + std::to_string(target_.port)
                                   : "redis:unix:" + target_.socket;
  }
  // Nothing is answered any more: the waiting callbacks are dropped unrun.
  ~RedisCache() override {
    pending_.clear();
    if (redisAsyncContext* ac = std::exchange(ctx_, nullptr)) {
      ac->data = nullptr;
      redisAsyncFree(ac);
    }
  }

  void Get(std::string key, GetCallback cb) override {
    Send({"HMGET", key, "v", "h", "c", "t", "e"}, [cb = std::move(cb)](Result<const redisReply*> r) {
      if (!r) return cb(Err(r.error()));
      cb(RecordAt(*r, 0));
    });
  }
  void Put(std::string key, std::string value, uint64_t ttl, DoneCallback cb) override {
    Script(kPutScript, std::move(key), std::move(value), ttl, [cb = std::move(cb)](Result<const redisReply*> r) {
      if (!r) return cb(Err(r.error()));
      cb(true);
    });
  }
  void Delete(std::string key, DoneCallback cb) override {
    Send({"DEL", key}, [cb = std::move(cb)](Result<const redisReply*> r) {
      if (!r) return cb(Err(r.error()));
      if ((*r)->type != REDIS_REPLY_INTEGER) return cb(Err("unexpected reply from Redis"));
      cb((*r)->integer > 0);
    });
  }
  void Hit(std::string key, std::string value_if_new, uint64_t ttl, HitCallback cb) override {
    Script(kHitScript, std::move(key), std::move(value_if_new), ttl, [cb = std::move(cb)](Result<const redisReply*> r) {
      if (!r) return cb(Err(r.error()));
      auto rec = RecordAt(*r, 0);
      if (!rec) return cb(Err(rec.error()));
      if (!rec->has_value()) return cb(Err("unexpected reply from Redis"));
      cb(std::move(**rec));
    });
  }
  void List(std::string prefix, ListCallback cb) override {
    Send({"EVAL", std::string(kListScript), "0", GlobPrefix(prefix)}, [cb = std::move(cb)](Result<const redisReply*> r) {
      if (!r) return cb(Err(r.error()));
      if ((*r)->type != REDIS_REPLY_ARRAY || (*r)->elements % 6) return cb(Err("unexpected reply from Redis"));
      Listing out;
      for (size_t i = 0; i < (*r)->elements; i += 6) {
        auto key = Text((*r)->element[i]);
        auto rec = RecordAt(*r, i + 1);
        if (!key || !rec || !rec->has_value()) continue;
        out.emplace_back(std::move(*key), std::move(**rec));
      }
      std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      cb(std::move(out));
    });
  }
  void Sweep(std::function<void(Result<size_t>)> cb) override { cb(size_t{0}); }  // Redis expires keys itself
  const std::string& name() const override { return name_; }

 private:
  using Done = std::function<void(Result<const redisReply*>)>;
  struct Pending {
    Done done;
    uint64_t deadline = 0;
  };

  void Script(std::string_view script, std::string key, std::string value, uint64_t ttl, Done done) {
    Send({"EVAL", std::string(script), "1", std::move(key), std::to_string(std::time(nullptr)), std::move(value),
          std::to_string(ttl)},
         std::move(done));
  }

  // Queues one command; done runs exactly once (reply, error or timeout).
  void Send(std::vector<std::string> argv, Done done) {
    if (!ctx_ && !Connect()) return done(Err(last_error_));
    Queue(argv, std::move(done));
  }

  void Queue(const std::vector<std::string>& argv, Done done) {
    std::vector<const char*> ptrs;
    std::vector<size_t> lens;
    for (const std::string& a : argv) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
    uint64_t id = next_id_++;
    if (redisAsyncCommandArgv(ctx_, OnReply, reinterpret_cast<void*>(uintptr_t(id)), int(argv.size()), ptrs.data(),
                              lens.data()) != REDIS_OK) {
      Failed(ctx_->errstr[0] ? ctx_->errstr : "cannot send a request");
      Drop();
      return done(Err(last_error_));
    }
    pending_[id] = Pending{std::move(done), uv_now(loop_) + uint64_t(opts_.timeout.count())};
    if (!timer_.active()) timer_.Start(100, 100, [this] { CheckDeadlines(); });
  }

  bool Connect() {
    if (uv_now(loop_) < retry_at_) return false;
    redisAsyncContext* ac = target_.socket.empty() ? redisAsyncConnect(target_.host.c_str(), target_.port)
                                                   : redisAsyncConnectUnix(target_.socket.c_str());
    if (!ac) return Failed("out of memory"), false;
    if (ac->err) {
      Failed(ac->errstr);
      redisAsyncFree(ac);
      return false;
    }
    ac->data = this;
    if (!UvAttach(ac, loop_)) {
      ac->data = nullptr;
      redisAsyncFree(ac);
      return Failed("cannot watch the connection"), false;
    }
    redisAsyncSetConnectCallback(ac, OnConnect);
    redisAsyncSetDisconnectCallback(ac, OnDisconnect);
    ctx_ = ac;
    auto setup = [this](std::string what) {
      return [this, what](Result<const redisReply*> r) {
        if (r && (*r)->type != REDIS_REPLY_ERROR) return;
        Failed(what + ": " + (r ? std::string((*r)->str, (*r)->len) : r.error()));
        Drop();
      };
    };
    if (!opts_.redis_password.empty()) Queue({"AUTH", opts_.redis_password}, setup("AUTH"));
    if (ctx_ && target_.db) Queue({"SELECT", std::to_string(target_.db)}, setup("SELECT"));
    return ctx_ != nullptr;
  }

  static RedisCache* Self(const redisAsyncContext* ac) { return static_cast<RedisCache*>(ac->data); }

  static void OnConnect(const redisAsyncContext* ac, int status) {
    RedisCache* self = Self(ac);
    if (!self || self->ctx_ != ac) return;
    if (status != REDIS_OK) return self->Lost(ac, "cannot connect");  // hiredis frees it after this callback
    if (self->down_) log::Info("policy cache {}: connected again", self->name_);
    self->down_ = false;
  }

  static void OnDisconnect(const redisAsyncContext* ac, int status) {
    RedisCache* self = Self(ac);
    if (self && self->ctx_ == ac) self->Lost(ac, status == REDIS_OK ? "connection closed" : "connection lost");
  }

  static void OnReply(redisAsyncContext* ac, void* reply, void* privdata) {
    RedisCache* self = Self(ac);
    if (!self) return;
    // No reply: hiredis is tearing the connection down (error, garbage, close).
    if (!reply && self->ctx_ == ac) self->Lost(ac, "connection lost");
    auto it = self->pending_.find(uint64_t(reinterpret_cast<uintptr_t>(privdata)));
    if (it == self->pending_.end()) return;  // timed out, or failed by Lost
    Done done = std::move(it->second.done);
    self->pending_.erase(it);
    auto* r = static_cast<const redisReply*>(reply);
    if (!r) return done(Err(self->last_error_));
    if (r->type == REDIS_REPLY_ERROR) return done(Err("Redis: " + std::string(r->str, r->len)));
    done(r);
  }

  // The connection ac is going away (hiredis frees it): forget it before
  // anything else can use it, then fail what waited on it.
  void Lost(const redisAsyncContext* ac, const char* what) {
    ctx_ = nullptr;
    Failed(ac->errstr[0] ? ac->errstr : what);
    FailAll();
  }

  void CheckDeadlines() {
    if (pending_.empty()) return timer_.Stop();
    if (pending_.begin()->second.deadline > uv_now(loop_)) return;
    Failed("no answer within " + std::to_string(opts_.timeout.count()) + " ms");
    Drop();
  }

  // Forgets the connection (a request timed out or the reply was garbage):
  // every waiting request fails now, the next one reconnects after kRetryMs.
  void Drop() {
    if (redisAsyncContext* ac = std::exchange(ctx_, nullptr)) {
      ac->data = nullptr;  // its callbacks, run by the free, find no owner
      redisAsyncFree(ac);
    }
    FailAll();
  }

  void FailAll() {
    auto pending = std::move(pending_);
    pending_.clear();
    timer_.Stop();
    for (auto& [id, p] : pending) p.done(Err(last_error_));
  }

  // Records why the server cannot be used; one warning a minute while it lasts.
  void Failed(std::string why) {
    last_error_ = name_ + ": " + why;
    uint64_t now = uv_now(loop_);
    retry_at_ = now + kRetryMs;
    down_ = true;
    if (logged_at_ && now - logged_at_ < kLogEveryMs) return;
    logged_at_ = now;
    log::Warning("policy cache {}: {}; applying policy_cache_failure_action until it answers", name_, why);
  }

  uv_loop_t* loop_;
  RedisTarget target_;
  Options opts_;
  std::string name_;
  redisAsyncContext* ctx_ = nullptr;
  std::map<uint64_t, Pending> pending_;  // by id: the oldest first
  uint64_t next_id_ = 1;
  event::Timer timer_;
  uint64_t retry_at_ = 0, logged_at_ = 0;
  bool down_ = false;
  std::string last_error_;
};

}  // namespace

bool RecordFromFields(const std::string* f[5], Record* out) {
  uint64_t hits = 0, created = 0, touched = 0, expires = 0;
  if (!f[0] || !Number(f[1], &hits) || !Number(f[2], &created) || !Number(f[3], &touched) || !Number(f[4], &expires))
    return false;
  *out = Record{*f[0], hits, std::time_t(created), std::time_t(touched), std::time_t(expires)};
  return true;
}

std::string GlobPrefix(std::string_view prefix) {
  std::string out;
  for (char ch : prefix) {
    if (ch == '*' || ch == '?' || ch == '[' || ch == ']' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "*";
}

Result<std::unique_ptr<Cache>> OpenRedis(uv_loop_t* loop, const RedisTarget& target, const Options& o) {
  return std::unique_ptr<Cache>(new RedisCache(loop, target, o));
}

}  // namespace postern::cache
