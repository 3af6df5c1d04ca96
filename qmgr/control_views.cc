// qmgr/control_views.cc — smtpctl's views of remote servers, from the tables of
// mta_view.h: `show hosts`, `show relays` and the connection routes of `show routes`
// (text and --json); the flags D and Q say what qmgr does with the route's destination.
#include <algorithm>
#include <ctime>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "postern/log/log.h"
#include "postern/util/strings.h"
#include "qmgr/control.h"

namespace postern::qmgr {

namespace ctlproto = ipc::control;

namespace {

std::string Ago(int64_t when, int64_t now) { return when ? MtaView::Duration(now - when) : "-"; }
std::string AgoJson(int64_t when, int64_t now) { return when ? std::to_string(std::max<int64_t>(0, now - when)) : "null"; }
std::string Source(const std::string& s) { return s.empty() ? "-" : s; }

}  // namespace

// What qmgr does with a destination now: dead (after a failed cohort) until
// its revival, or counting failures towards one.
Control::DestView Control::ViewOf(const DestRef& ref) {
  DestView v;
  Dest* d = mgr_.active().FindDest(ref.first, ref.second);
  if (!d) {
    v.state = "idle";
    return v;
  }
  v.known = true;
  v.dead = d->window.dead();
  v.failing = !v.dead && d->window.failing();
  v.state = StateOf(*d, std::time(nullptr));
  if (v.dead && d->revive_at > 0) {
    int64_t ms = d->revive_at - static_cast<int64_t>(uv_now(loop_));
    v.revive_in = std::max<int64_t>(0, (ms + 999) / 1000);
  }
  return v;
}

void Control::RegisterViews() {
  auto& t = ctlproto::ProcessTable();
  using R = std::shared_ptr<ctlproto::Reply>;
  mgr_.SetConnectionWatcher({[this](const Job& j, const ipc::ConnectionFact& c) {
                               mta_.Note(reinterpret_cast<uintptr_t>(&j), {j.dest->transport->name, j.dest->nexthop},
                                         j.dest->transport->name, c, std::time(nullptr));
                             },
                             [this](const Job& j) { mta_.EndJob(reinterpret_cast<uintptr_t>(&j), std::time(nullptr)); }});
  t.Add({"show", "hosts"}, [this](const ctlproto::Request& req, R reply) {
    if (auto json = JsonArg(req, *reply)) ShowHosts(*json, reply);
  });
  t.Add({"show", "relays"}, [this](const ctlproto::Request& req, R reply) {
    if (auto json = JsonArg(req, *reply)) ShowRelays(*json, reply);
  });
}

// "ADDRESS NAME refcount=N nconn=N lastconn=DUR" as smtpctl, then reused and failed connections.
void Control::ShowHosts(bool json, ReplyPtr reply) {
  int64_t now = std::time(nullptr);
  mta_.Expire(now);
  for (const auto& [addr, h] : mta_.hosts()) {
    if (json) {
      reply->Line(fmt::format(
          R"({{"address":{},"name":{},"refcount":{},"nconn":{},"nreuse":{},"nfail":{},"lastconn":{}}})",
          JsonString(addr), JsonString(h.name), h.refcount, h.nconn, h.nreuse, h.nfail, AgoJson(h.lastconn, now)));
      continue;
    }
    reply->Line(fmt::format("{} {} refcount={} nconn={} lastconn={} nreuse={} nfail={}", addr, h.name, h.refcount,
                            h.nconn, Ago(h.lastconn, now), h.nreuse, h.nfail));
  }
  reply->Finish();
}

// "ID. SOURCE <-> ADDRESS (NAME) NDQ refcount=N nconn=N penalty=N timeout=DUR (last error)".
void Control::RouteLines(bool json, ReplyPtr reply) {
  mta_.Expire(std::time(nullptr));
  for (const auto& [key, r] : mta_.routes()) {
    DestView d = ViewOf(r.dest);
    bool fresh = r.lastconn == 0, quarantined = d.failing && r.penalty > 0;
    std::string flags = fmt::format("{}{}{}", fresh ? 'N' : '-', d.dead ? 'D' : '-', quarantined ? 'Q' : '-');
    uint64_t id = MtaView::RouteId(key);
    if (json) {
      reply->Line(fmt::format(
          R"({{"type":"route","id":"{:016x}","source":{},"address":{},"name":{},"flags":"{}","new":{},"disabled":{},"quarantined":{},"refcount":{},"nconn":{},"penalty":{},"timeout":{},"error":{},"transport":{},"nexthop":{}}})",
          id, JsonString(Source(key.first)), JsonString(key.second), JsonString(r.name), flags, fresh, d.dead,
          quarantined, r.refcount, r.nconn, r.penalty, d.dead ? std::to_string(d.revive_in) : "null",
          JsonString(r.error), JsonString(r.dest.first), JsonString(r.dest.second)));
      continue;
    }
    reply->Line(fmt::format("{:016x}. {} <-> {} ({}) {} refcount={} nconn={} penalty={} timeout={}{}", id,
                            Source(key.first), key.second, r.name, flags, r.refcount, r.nconn, r.penalty,
                            d.dead ? MtaView::Duration(d.revive_in) : "-", r.error.empty() ? "" : " (" + r.error + ")"));
  }
}

bool Control::ResumeConnectionRoute(uint64_t id) {
  MtaRoute* r = mta_.FindRoute(id);
  if (!r) return false;
  mta_.ClearPenalty(*r);
  mgr_.ReviveDest(r->dest.first, r->dest.second);
  log::Info("{}:{}: route to {} resumed by administrator", r->dest.first, r->dest.second, r->name);
  return true;
}

// A relay line ("[relay:...] refcount=N nconn=N lastconn=DUR state=S"), then one
// connector line per source address.
void Control::ShowRelays(bool json, ReplyPtr reply) {
  int64_t now = std::time(nullptr);
  mta_.Expire(now);
  for (const auto& [name, rl] : mta_.relays()) {
    DestView d = ViewOf(rl.dest);
    std::string connectors;
    for (const auto& [source, c] : rl.connectors) {
      std::vector<std::string> flags;
      if (c.lastconn == 0) flags.push_back("NEW");
      if (c.failing) flags.push_back("ERROR_ROUTE_NET");
      if (d.dead) flags.push_back("DISABLED");
      std::string f = fmt::format("{}", fmt::join(flags, ","));
      if (json) {
        std::vector<std::string> quoted;
        for (const auto& x : flags) quoted.push_back(JsonString(x));
        connectors += fmt::format(R"({}{{"source":{},"refcount":{},"nconn":{},"nfail":{},"lastconn":{},"flags":[{}]}})",
                                  connectors.empty() ? "" : ",", JsonString(Source(source)), c.refcount, c.nconn,
                                  c.nfail, AgoJson(c.lastconn, now), fmt::join(quoted, ","));
      } else {
        connectors += fmt::format("  connector {} refcount={} nconn={} nfail={} lastconn={} timeout={} flags={}\n",
                                  Source(source), c.refcount, c.nconn, c.nfail, Ago(c.lastconn, now),
                                  d.dead ? MtaView::Duration(d.revive_in) : "-", f);
      }
    }
    if (json) {
      reply->Line(fmt::format(
          R"({{"relay":{},"transport":{},"nexthop":{},"state":"{}","refcount":{},"nconn":{},"lastconn":{},"connectors":[{}]}})",
          JsonString(name), JsonString(rl.dest.first), JsonString(rl.dest.second), d.state, rl.refcount, rl.nconn,
          AgoJson(rl.lastconn, now), connectors));
      continue;
    }
    reply->Line(fmt::format("{} refcount={} nconn={} lastconn={} state={}", name, rl.refcount, rl.nconn,
                            Ago(rl.lastconn, now), d.state));
    reply->Text(connectors);
  }
  reply->Finish();
}

}  // namespace postern::qmgr
