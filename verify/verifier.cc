// verify/verifier.cc — cache lookups, probes through the transports and the
// waiting queries of verify(8); see verifier.h.
#include "verify/verifier.h"

#include <ctime>

#include "postern/log/log.h"
#include "postern/queue/schema.h"

namespace postern::verify {

namespace {

using ipc::VerifyAnswer;
using ipc::VerifyStatus;

constexpr std::string_view kInProgress = "Address verification in progress";

VerifyAnswer FromResult(const ipc::DeliveryResult& r) {
  VerifyStatus s = r.status == ipc::DeliveryStatus::kSent      ? VerifyStatus::kDeliverable
                   : r.status == ipc::DeliveryStatus::kBounced ? VerifyStatus::kUndeliverable
                                                               : VerifyStatus::kUnknown;
  return {s, r.reason};
}

const char* StatusWord(VerifyStatus s) {
  switch (s) {
    case VerifyStatus::kDeliverable: return "deliverable";
    case VerifyStatus::kUndeliverable: return "undeliverable";
    case VerifyStatus::kUnknown: return "unknown";
    case VerifyStatus::kInProgress: return "in progress";
  }
  return "";
}

}  // namespace

void Verifier::Query(const ipc::VerifyQuery& q, Done done) {
  // As Postfix: the null sender is not probed (nobody could answer for it).
  if (q.address.empty()) return done({VerifyStatus::kDeliverable, "the null sender is not verified"});
  if (q.fresh) return Answer(q, std::nullopt, false, std::move(done));
  Cached(q, [this, q, done = std::move(done)](std::optional<VerifyAnswer> a, bool refresh) mutable {
    Answer(q, std::move(a), refresh, std::move(done));
  });
}

void Verifier::Answer(const ipc::VerifyQuery& q, std::optional<VerifyAnswer> cached, bool refresh, Done done) {
  std::string key = AddressKey(q.kind, q.address);
  bool running = probes_.count(key) > 0;
  if (cached) {
    if (refresh && !running) {
      log::Info("refreshing {} ({} since long enough)", key, StatusWord(cached->status));
      StartProbe(key, q.kind, q.address);
    }
    return done(std::move(*cached));
  }
  if (!running) {
    probes_[key] = std::make_unique<Probe>(Probe{q.kind, q.address, {}, nullptr});
  }
  Wait(key, q.wait_ms, std::move(done));
  if (!running) StartProbe(key, q.kind, q.address);
}

void Verifier::Cached(const ipc::VerifyQuery& q, CachedDone done) {
  std::string key = AddressKey(q.kind, q.address);
  // smtpf's sav:domain: a sender domain known to have no working mail server.
  std::string dk = q.kind == ipc::VerifyKind::kSender ? DomainKey(q.address) : "";
  cache_->Get(key, [this, key, dk, done = std::move(done)](Result<std::optional<cache::Record>> e) mutable {
    if (!e) log::Warning("policy cache: {}: {}", key, e.error());
    if (e && *e) {
      if (auto a = ParseValue((*e)->value)) {
        std::time_t now = std::time(nullptr);
        bool refresh = (*e)->expires && NeedsRefresh(a->status, (*e)->expires, now, s_.lifetimes);
        return done(std::move(a), refresh);
      }
    }
    if (dk.empty()) return done(std::nullopt, false);
    cache_->Get(dk, [dk, done = std::move(done)](Result<std::optional<cache::Record>> d) {
      if (!d) log::Warning("policy cache: {}: {}", dk, d.error());
      std::optional<VerifyAnswer> a;
      if (d && *d) a = ParseValue((*d)->value);
      if (a && a->status == VerifyStatus::kUndeliverable) return done(std::move(a), false);
      done(std::nullopt, false);
    });
  });
}

void Verifier::Wait(const std::string& key, uint32_t wait_ms, Done done) {
  auto w = std::make_shared<Waiter>(Waiter{std::move(done), std::make_unique<event::Timer>(loop_)});
  probes_[key]->waiters.push_back(w);
  std::weak_ptr<Waiter> weak = w;
  w->timer->Start(wait_ms, 0, [weak] {
    auto w = weak.lock();
    if (!w || !w->done) return;
    Done d = std::move(w->done);
    w->done = nullptr;
    d({VerifyStatus::kInProgress, std::string(kInProgress)});
  });
}

// Routes the address as qmgr would and hands one probe request to the
// transport; its one result ends the probe.
void Verifier::StartProbe(const std::string& key, ipc::VerifyKind kind, const std::string& address) {
  if (!probes_.count(key)) probes_[key] = std::make_unique<Probe>(Probe{kind, address, {}, nullptr});
  Probe& p = *probes_[key];
  auto route = router_.Resolve(address);
  if (!route) return Finish(key, {VerifyStatus::kUnknown, "address resolution failed: " + route.error()});
  if (!s_.probing_transports.count(route->transport))
    return Finish(key, {VerifyStatus::kDeliverable, "delivery via " + route->transport});
  ipc::DeliveryRequest req;
  req.transport = route->transport;
  req.nexthop = route->nexthop;
  req.sender = s_.sender;
  req.flags = queue::kFlagVerifyProbe;
  req.arrival = std::time(nullptr);
  req.recipients.push_back({1, address, "", 0});
  ipc::Call::Failure failure;
  std::string why;
  p.call = ipc::Call::Connect(loop_, s_.queue_dir + "/private/" + route->transport, ipc::kDeliveryFrameMax, &failure,
                              &why);
  if (!p.call) return Finish(key, {VerifyStatus::kUnknown, "mail transport unavailable: " + why});
  log::Info("probe {} via {}:{}", key, route->transport, route->nexthop);
  auto result = std::make_shared<std::optional<ipc::DeliveryResult>>();
  ipc::SendDelivery(
      *p.call, req, [result](const ipc::DeliveryResult& r) { *result = r; },
      [this, key, result](ipc::Call::End, const std::string& why) {
        Finish(key, *result ? FromResult(**result) : VerifyAnswer{VerifyStatus::kUnknown, "probe failed: " + why});
      },
      s_.probe_timeout_ms);
}

void Verifier::Finish(const std::string& key, VerifyAnswer a) {
  auto it = probes_.find(key);
  if (it == probes_.end()) return;
  std::unique_ptr<Probe> p = std::move(it->second);
  probes_.erase(it);
  log::Info("{}: {}: {}", key, StatusWord(a.status), a.reason);
  Store(*p, a);
  for (auto& w : p->waiters) {
    if (!w->done) continue;
    w->timer->Stop();
    Done d = std::move(w->done);
    w->done = nullptr;
    d(a);
  }
  // p (and its call, whose on_end may be running: Call allows that) goes now.
}

void Verifier::Store(const Probe& p, const VerifyAnswer& a) {
  auto put = [&](const std::string& key, const VerifyAnswer& v) {
    uint64_t ttl = ExpireTime(v.status, s_.lifetimes);
    if (!ttl) return;
    cache_->Put(key, FormatValue(v), ttl, [key](Result<bool> r) {
      if (!r) log::Warning("policy cache: {}: {}", key, r.error());
    });
  };
  put(AddressKey(p.kind, p.address), a);
  if (p.kind == ipc::VerifyKind::kSender) {
    std::string dk = DomainKey(p.address);
    if (!dk.empty()) put(dk, DomainResult(a));
  }
}

}  // namespace postern::verify
