// qmgr/control_routes.cc — what qmgr knows of destinations, for `postern
// show hosts|hoststats|routes|relays` and `resume route ID`: routes are the
// (transport, next hop) queues of the active set (active.h), named by a stable 64-bit id.
#include <algorithm>
#include <ctime>

#include <fmt/format.h>

#include "postern/log/log.h"
#include "qmgr/control.h"

namespace postern::qmgr {

namespace ctlproto = ipc::control;

namespace {

constexpr int64_t kHostStatAge = 4 * 3600;  // show hoststats: the last four hours

// FNV-1a: the same route keeps its id across restarts of qmgr.
uint64_t RouteId(const std::string& transport, const std::string& nexthop) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  };
  mix(transport);
  mix(std::string_view("\0", 1));
  mix(nexthop);
  return h;
}

std::string Domain(const std::string& address) {
  size_t at = address.rfind('@');
  std::string d = at == std::string::npos ? address : address.substr(at + 1);
  std::transform(d.begin(), d.end(), d.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return d;
}

bool NoArgs(const ctlproto::Request& req, ctlproto::Reply& reply) {
  if (req.Args().empty()) return true;
  reply.Fail(req.words[0] + " " + req.words[1] + " takes no arguments");
  return false;
}

}  // namespace

void Control::NoteHostStat(const std::string& address, const ipc::DeliveryResult& r) {
  int64_t now = std::time(nullptr);
  std::string status = r.reason.empty() ? r.dsn : r.reason;
  hoststats_[Domain(address)] = {now, status.substr(0, 200)};
  // Forget old entries as new ones come, so the map cannot grow for ever.
  if (hoststats_.size() % 256 == 0)
    std::erase_if(hoststats_, [now](const auto& kv) { return now - kv.second.when > kHostStatAge; });
}

std::string Control::StateOf(const Dest& d, int64_t now) const {
  if (d.window.dead()) return "dead";
  if (d.transport->throttled_until > now) return "throttled";
  if (mgr_.Paused(*d.transport)) return "paused";
  return "active";
}

void Control::RegisterRoutes() {
  auto& t = ctlproto::ProcessTable();
  using R = std::shared_ptr<ctlproto::Reply>;
  t.Add({"show", "routes"}, [this](const ctlproto::Request& req, R reply) {
    if (!NoArgs(req, *reply)) return;
    int64_t now = std::time(nullptr);
    for (const auto& [key, d] : mgr_.active().dests()) {
      std::string reason = d->window.dead() ? d->dead_reason
                           : d->transport->throttled_until > now ? d->transport->throttle_reason : "";
      reply->Line(fmt::format("{:016x}. {}:{} {} window={} busy={} queued={}{}", RouteId(key.first, key.second),
                              key.first, key.second, StateOf(*d, now), d->window.concurrency(), d->busy, d->Queued(),
                              reason.empty() ? "" : " (" + reason + ")"));
    }
    reply->Finish();
  });
  t.Add({"show", "hosts"}, [this](const ctlproto::Request& req, R reply) {
    if (!NoArgs(req, *reply)) return;
    // A next hop may be served by several transports: one line per host.
    struct Host {
      int busy = 0;
      size_t queued = 0;
      std::string state;
    };
    std::map<std::string, Host> hosts;
    int64_t now = std::time(nullptr);
    for (const auto& [key, d] : mgr_.active().dests()) {
      Host& h = hosts[key.second];
      h.busy += d->busy;
      h.queued += d->Queued();
      std::string st = StateOf(*d, now);
      if (h.state.empty() || h.state == "active") h.state = st;
    }
    for (const auto& [name, h] : hosts)
      reply->Line(fmt::format("{} {} nconn={} queued={}", name, h.state, h.busy, h.queued));
    reply->Finish();
  });
  t.Add({"show", "relays"}, [this](const ctlproto::Request& req, R reply) {
    if (!NoArgs(req, *reply)) return;
    int64_t now = std::time(nullptr);
    for (const auto& [p, job] : mgr_.active().jobs())
      reply->Line(fmt::format("{} {}:{} envelopes={} running={}s", queue::FormatMsgId(job->msg),
                              job->dest->transport->name, job->dest->nexthop, job->entries.size(),
                              now - job->started));
    reply->Finish();
  });
  t.Add({"show", "hoststats"}, [this](const ctlproto::Request& req, R reply) {
    if (!NoArgs(req, *reply)) return;
    int64_t now = std::time(nullptr);
    std::erase_if(hoststats_, [now](const auto& kv) { return now - kv.second.when > kHostStatAge; });
    for (const auto& [domain, s] : hoststats_) reply->Line(fmt::format("{}|{}|{}", domain, s.when, s.status));
    reply->Finish();
  });
  t.Add({"resume", "route"}, [this](const ctlproto::Request& req, R reply) {
    auto args = req.Args();
    auto id = args.size() == 1 ? ctlproto::ParseIdArg(args[0], false)
                               : Result<ctlproto::IdArg>(Err("usage: resume route ID"));
    if (!id || !id->is_envelope) return reply->Fail(id ? "a route id has 16 hex digits (see show routes)" : id.error());
    for (auto& [key, d] : mgr_.active().dests()) {
      if (RouteId(key.first, key.second) != id->id) continue;
      mgr_.active().Revive(*d);
      d->transport->throttled_until = 0;
      log::Info("{}:{}: route resumed by administrator", key.first, key.second);
      mgr_.SchedulePump(0);
      reply->Line("command succeeded");
      return reply->Finish();
    }
    reply->Fail("no such route: " + args[0]);
  });
}

}  // namespace postern::qmgr
