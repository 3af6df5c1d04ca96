// qmgr/control_routes.cc — what qmgr knows of destinations, for `postern show
// routes|hoststats` and `resume route ID`: the (transport, next hop) queues of the
// active set (active.h), named by a stable 64-bit id, then the connection routes
// (source → host) of control_views.cc.
#include <algorithm>
#include <ctime>

#include <fmt/format.h>

#include "postern/log/log.h"
#include "postern/util/strings.h"
#include "qmgr/control.h"

namespace postern::qmgr {

namespace ctlproto = ipc::control;

namespace {

constexpr int64_t kHostStatAge = 4 * 3600;  // show hoststats: the last four hours

std::string Domain(const std::string& address) {
  size_t at = address.rfind('@');
  std::string d = at == std::string::npos ? address : address.substr(at + 1);
  std::transform(d.begin(), d.end(), d.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return d;
}

}  // namespace

std::optional<bool> Control::JsonArg(const ctlproto::Request& req, ctlproto::Reply& reply) {
  auto args = req.Args();
  if (args.empty()) return false;
  if (args.size() == 1 && args[0] == "--json") return true;
  reply.Fail("usage: " + req.words[0] + " " + req.words[1] + " [--json]");
  return std::nullopt;
}

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

// The destination queues: "ID. transport:nexthop state window=N busy=N queued=N (why)".
void Control::DestLines(bool json, ReplyPtr reply) {
  int64_t now = std::time(nullptr);
  for (const auto& [key, d] : mgr_.active().dests()) {
    std::string reason = d->window.dead() ? d->dead_reason
                         : d->transport->throttled_until > now ? d->transport->throttle_reason : "";
    uint64_t id = MtaView::Id(key.first, key.second);
    std::string state = StateOf(*d, now);
    if (json) {
      reply->Line(fmt::format(
          R"({{"type":"destination","id":"{:016x}","transport":{},"nexthop":{},"state":"{}","window":{},"busy":{},"queued":{},"reason":{}}})",
          id, JsonString(key.first), JsonString(key.second), state, d->window.concurrency(), d->busy, d->Queued(),
          JsonString(reason)));
      continue;
    }
    reply->Line(fmt::format("{:016x}. {}:{} {} window={} busy={} queued={}{}", id, key.first, key.second, state,
                            d->window.concurrency(), d->busy, d->Queued(), reason.empty() ? "" : " (" + reason + ")"));
  }
}

bool Control::ResumeDest(uint64_t id) {
  for (auto& [key, d] : mgr_.active().dests()) {
    if (MtaView::Id(key.first, key.second) != id) continue;
    mgr_.active().Revive(*d);
    d->transport->throttled_until = 0;
    log::Info("{}:{}: route resumed by administrator", key.first, key.second);
    return true;
  }
  return false;
}

void Control::RegisterRoutes() {
  auto& t = ctlproto::ProcessTable();
  using R = std::shared_ptr<ctlproto::Reply>;
  t.Add({"show", "routes"}, [this](const ctlproto::Request& req, R reply) {
    auto json = JsonArg(req, *reply);
    if (!json) return;
    DestLines(*json, reply);
    RouteLines(*json, reply);
    reply->Finish();
  });
  t.Add({"show", "hoststats"}, [this](const ctlproto::Request& req, R reply) {
    auto json = JsonArg(req, *reply);
    if (!json) return;
    int64_t now = std::time(nullptr);
    std::erase_if(hoststats_, [now](const auto& kv) { return now - kv.second.when > kHostStatAge; });
    for (const auto& [domain, s] : hoststats_)
      reply->Line(*json ? fmt::format(R"({{"domain":{},"time":{},"status":{}}})", JsonString(domain), s.when,
                                      JsonString(s.status))
                        : fmt::format("{}|{}|{}", domain, s.when, s.status));
    reply->Finish();
  });
  t.Add({"resume", "route"}, [this](const ctlproto::Request& req, R reply) {
    auto args = req.Args();
    auto id = args.size() == 1 ? ctlproto::ParseIdArg(args[0], false) : Result<ctlproto::IdArg>(Err("usage: resume route ID"));
    if (!id || !id->is_envelope) return reply->Fail(id ? "a route id has 16 hex digits (see show routes)" : id.error());
    if (!ResumeDest(id->id) && !ResumeConnectionRoute(id->id)) return reply->Fail("no such route: " + args[0]);
    mgr_.SchedulePump(0);
    reply->Line("command succeeded");
    reply->Finish();
  });
  RegisterViews();
}

}  // namespace postern::qmgr
