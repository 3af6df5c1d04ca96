// qmgr/mta_view.cc — the host, route and relay tables behind `show hosts|routes|relays`,
// fed with the transports' connection facts; bounded by idle expiry and a size cap.
#include "qmgr/mta_view.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

namespace postern::qmgr {

namespace {

// Drops entries not in use and idle for `idle` seconds, then the least
// recently seen unused ones beyond `cap`.
template <class Map>
void Trim(Map& m, int64_t now, int64_t idle, size_t cap) {
  std::erase_if(m, [&](const auto& kv) { return kv.second.refcount == 0 && now - kv.second.seen > idle; });
  if (m.size() <= cap) return;
  std::vector<std::pair<int64_t, typename Map::key_type>> unused;
  for (const auto& [k, v] : m)
    if (v.refcount == 0) unused.emplace_back(v.seen, k);
  std::sort(unused.begin(), unused.end());
  for (size_t i = 0; i < unused.size() && m.size() > cap; ++i) m.erase(unused[i].second);
}

}  // namespace

uint64_t MtaView::Id(std::string_view a, std::string_view b) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  };
  mix(a);
  mix(std::string_view("\0", 1));
  mix(b);
  return h;
}

std::string MtaView::RelayName(const std::string& transport, const ipc::ConnectionFact& c) {
  std::string port = c.port ? fmt::format(":{}", c.port) : "";
  return fmt::format("[relay:{}{},{},tls={}]", c.relay, port, transport, c.tls.empty() ? "none" : c.tls);
}

std::string MtaView::Duration(int64_t s) {
  if (s <= 0) return "0s";
  std::string out;
  const std::pair<int64_t, char> units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
  for (auto [size, letter] : units) {
    if (s < size) continue;
    out += fmt::format("{}{}", s / size, letter);
    s %= size;
  }
  return out;
}

void MtaView::Acquire(const Use& u) {
  if (auto h = hosts_.find(u.host); h != hosts_.end()) ++h->second.refcount;
  if (auto r = routes_.find(u.route); r != routes_.end()) ++r->second.refcount;
  if (auto r = relays_.find(u.relay); r != relays_.end()) {
    ++r->second.refcount;
    ++r->second.connectors[u.source].refcount;
  }
}

void MtaView::Release(const Use& u) {
  auto down = [](int& n) { n = std::max(0, n - 1); };
  if (auto h = hosts_.find(u.host); h != hosts_.end()) down(h->second.refcount);
  if (auto r = routes_.find(u.route); r != routes_.end()) down(r->second.refcount);
  if (auto r = relays_.find(u.relay); r != relays_.end()) {
    down(r->second.refcount);
    if (auto c = r->second.connectors.find(u.source); c != r->second.connectors.end()) down(c->second.refcount);
  }
}

void MtaView::Note(uint64_t job, const DestRef& dest, const std::string& transport, const ipc::ConnectionFact& c,
                   int64_t now) {
  using K = ipc::ConnectionFact::Kind;
  bool ok = c.kind != K::kFailed;
  MtaHost& h = hosts_[c.address];
  h.name = c.host;
  h.seen = now;
  RouteKey rk{c.source, c.address};
  MtaRoute& r = routes_[rk];
  r.name = c.host;
  r.seen = now;
  r.dest = dest;
  std::string relay_name = RelayName(transport, c);
  MtaRelay& rl = relays_[relay_name];
  rl.seen = now;
  rl.dest = dest;
  MtaConnector& cn = rl.connectors[c.source];
  cn.seen = now;
  if (!ok) {
    ++h.nfail;
    ++r.penalty;
    r.error = c.error;
    ++cn.nfail;
    cn.failing = true;
  } else {
    h.lastconn = r.lastconn = rl.lastconn = cn.lastconn = now;
    r.penalty = 0;
    r.error.clear();
    cn.failing = false;
    if (c.kind == K::kReused) {
      ++h.nreuse;
    } else {
      ++h.nconn;
      ++r.nconn;
      ++rl.nconn;
      ++cn.nconn;
    }
    // The delivery now uses this connection, and no longer the one before.
    Use u{c.address, relay_name, c.source, rk};
    if (auto old = uses_.find(job); old != uses_.end()) Release(old->second);
    uses_[job] = u;
    Acquire(u);
  }
  if (now - last_expire_ >= 60 || hosts_.size() > kMaxEntries || routes_.size() > kMaxEntries ||
      relays_.size() > kMaxEntries)
    Expire(now);
}

void MtaView::EndJob(uint64_t job, int64_t now) {
  auto u = uses_.find(job);
  if (u == uses_.end()) return;
  Release(u->second);
  // A connection in use counts as seen until its use ends.
  if (auto h = hosts_.find(u->second.host); h != hosts_.end()) h->second.seen = now;
  uses_.erase(u);
}

void MtaView::Expire(int64_t now) {
  last_expire_ = now;
  Trim(hosts_, now, kForgetAfter, kMaxEntries);
  Trim(routes_, now, kForgetAfter, kMaxEntries);
  for (auto& [name, relay] : relays_) Trim(relay.connectors, now, kForgetAfter, kMaxEntries);
  Trim(relays_, now, kForgetAfter, kMaxEntries);
}

MtaRoute* MtaView::FindRoute(uint64_t id) {
  for (auto& [k, r] : routes_)
    if (RouteId(k) == id) return &r;
  return nullptr;
}

}  // namespace postern::qmgr
