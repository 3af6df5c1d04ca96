// verify/verifier.h — verify(8)'s one job: answer "is this address
// deliverable?" from the policy cache, or probe it through the normal route
// (route::Router, then the transport's master.cf service in probe mode: MAIL
// and RCPT only) and remember the result. One probe per address at a time.
#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "postern/event/event.h"
#include "postern/ipc/call.h"
#include "postern/ipc/verify.h"
#include "postern/route/route.h"
#include "postern/stats/policy_cache.h"
#include "verify/cache_entry.h"

namespace postern::verify {

struct Settings {
  Lifetimes lifetimes;
  std::string sender;     // address_verify_sender, qualified; "" = the null sender
  std::string queue_dir;  // transports listen in $queue_directory/private
  // master.cf services whose program speaks SMTP or LMTP (smtp, relay, lmtp):
  // they can probe. Mail routed anywhere else is taken as deliverable there.
  std::set<std::string> probing_transports;
  uint64_t probe_timeout_ms = 300000;
};

class Verifier {
 public:
  using Done = std::function<void(ipc::VerifyAnswer)>;
  Verifier(uv_loop_t* loop, Settings s, route::Router router, std::unique_ptr<cache::Cache> cache)
      : loop_(loop), s_(std::move(s)), router_(std::move(router)), cache_(std::move(cache)) {}

  // Answers from the cache, or starts (or joins) a probe and answers when it
  // ends or after q.wait_ms with "in progress", whichever comes first.
  void Query(const ipc::VerifyQuery& q, Done done);

 private:
  struct Waiter {
    Done done;
    std::unique_ptr<event::Timer> timer;
  };
  struct Probe {
    ipc::VerifyKind kind;
    std::string address;
    std::vector<std::shared_ptr<Waiter>> waiters;
    std::unique_ptr<ipc::Call> call;
  };

  // The cached answer (nullopt: none) and whether it wants a refresh; the
  // policy cache answers at once (LMDB) or later (Redis).
  using CachedDone = std::function<void(std::optional<ipc::VerifyAnswer>, bool refresh)>;
  void Cached(const ipc::VerifyQuery& q, CachedDone done);
  void Answer(const ipc::VerifyQuery& q, std::optional<ipc::VerifyAnswer> cached, bool refresh, Done done);
  void Wait(const std::string& key, uint32_t wait_ms, Done done);
  void StartProbe(const std::string& key, ipc::VerifyKind kind, const std::string& address);
  void Finish(const std::string& key, ipc::VerifyAnswer a);
  void Store(const Probe& p, const ipc::VerifyAnswer& a);

  uv_loop_t* loop_;
  Settings s_;
  route::Router router_;
  std::unique_ptr<cache::Cache> cache_;
  std::map<std::string, std::unique_ptr<Probe>> probes_;  // by cache key
};

}  // namespace postern::verify
