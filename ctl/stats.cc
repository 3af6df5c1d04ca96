// ctl/stats.cc — `postern show stats [--json|--hourly|--routes]` and
// `postern monitor [interval [count]]`: live values from master and the
// smtpd workers (uptime, open sessions), totals from the statistics store,
// envelope counts from the queue, as smtpctl's sorted key=value lines.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "ctl/control.h"
#include "ctl/ops.h"
#include "postern/log/log.h"
#include "postern/queue/queue.h"
#include "postern/stats/store.h"
#include "postern/util/strings.h"

namespace postern::ctl {

namespace {

// Counters shown even before anything was counted, so scripts see every key.
constexpr const char* kAlways[] = {
    "bounce.envelope",          "bounce.message",
    "scheduler.delivery.loop",  "scheduler.delivery.ok",
    "scheduler.delivery.permfail", "scheduler.delivery.tempfail",
    "scheduler.envelope.expired",  "scheduler.envelope.removed",
    "smtp.message",             "smtp.recipient",
    "smtp.session",             "smtp.session.closed",
    "smtp.session.dropped",     "smtp.check.limit.reject",
    "smtp.check.pregreet.accept", "smtp.check.pregreet.reject",
    "smtp.check.relay.reject",  "smtp.check.dnsbl.reject",
};

struct Snapshot {
  std::map<std::string, uint64_t> values;
  std::string uptime_human;
};

Result<std::unique_ptr<stats::Store>> OpenStore(const config::Config& cfg) {
  auto path = cfg.Get("stats_database");
  if (!path) return Err(path.error());
  return stats::Store::Open(*path);
}

Result<Snapshot> Gather(const config::Config& cfg) {
  Snapshot s;
  std::string text;
  auto live = Call(cfg, {"show", "stats"}, [&](std::string_view t) { text.append(t); });
  if (!live) return Err(live.error());
  for (const std::string& line : SplitList(text, "\n")) {
    auto eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string key(line.substr(0, eq));
    std::string_view val = std::string_view(line).substr(eq + 1);
    if (key == "uptime.human") {
      s.uptime_human = std::string(val);
      continue;
    }
    unsigned long long n = 0;
    if (ParseUnsigned(val, &n)) s.values[key] += n;  // summed over the smtpd workers
  }
  for (const char* k : kAlways) s.values[k] += 0;
  auto store = OpenStore(cfg);
  if (!store) return Err("statistics database: " + store.error());
  auto totals = (*store)->Totals();
  if (!totals) return Err("statistics database: " + totals.error());
  for (const auto& [k, v] : *totals) s.values[k] += v;
  auto opts = queue::OptionsFromConfig(cfg);
  if (!opts.ok()) return Err(opts.status().message);
  auto q = queue::Queue::Open(cfg.Str("queue_directory"), *opts);
  if (!q.ok()) return Err("queue: " + q.status().message);
  queue::Counters c = (*q)->GetCounters();
  s.values["scheduler.envelope"] = c.incoming + c.active + c.deferred + c.hold;
  s.values["scheduler.envelope.incoming"] = c.incoming;
  s.values["scheduler.envelope.inflight"] = c.active;
  s.values["scheduler.envelope.deferred"] = c.deferred;
  s.values["scheduler.envelope.hold"] = c.hold;
  s.values["scheduler.envelope.corrupt"] = c.corrupt;
  s.values["queue.message"] = c.messages;
  s.values["queue.bytes"] = c.bytes;
  s.values["queue.message.enqueued"] = c.enqueued;
  s.values["queue.envelope.removed"] = c.removed;
  return s;
}

std::string HourText(uint32_t hour) {
  std::time_t t = std::time_t(hour) * 3600;
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:00Z", &tm);
  return buf;
}

// --routes --inbound: smtpf's accept:reject:volume per route and day (UTC),
// from smtpd's inbound.* route counters; "day|route|accept|reject|kib" lines
// or, with --json, one array of objects.
int ShowInbound(const config::Config& cfg, bool json) {
  auto store = OpenStore(cfg);
  if (!store) return log::Error("statistics database: {}", store.error()), 1;
  uint32_t since = stats::Store::HourOf(std::time(nullptr)) - stats::Store::kRetentionHours;
  auto rows = (*store)->Routes(since);
  if (!rows) return log::Error("statistics database: {}", rows.error()), 1;
  struct Triple {
    uint64_t accept = 0, reject = 0, bytes = 0;
  };
  std::map<std::pair<std::string, std::string>, Triple> days;  // (day, route)
  for (const auto& r : *rows) {
    if (r.name.rfind("inbound.", 0) != 0) continue;
    Triple& t = days[{HourText(r.hour).substr(0, 10), r.route}];
    if (r.name == "inbound.accept") t.accept += r.value;
    else if (r.name == "inbound.reject") t.reject += r.value;
    else if (r.name == "inbound.bytes") t.bytes += r.value;
  }
  std::string out = json ? "[" : "";
  for (const auto& [k, t] : days) {
    uint64_t kib = (t.bytes + 1023) / 1024;
    if (json)
      out += fmt::format("{}{{\"day\": \"{}\", \"route\": {}, \"accept\": {}, \"reject\": {}, \"kib\": {}}}",
                         out.size() > 1 ? ", " : "", k.first, JsonString(k.second), t.accept, t.reject, kib);
    else
      out += fmt::format("{}|{}|{}|{}|{}\n", k.first, k.second, t.accept, t.reject, kib);
  }
  if (json) out += "]\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

// --hourly / --routes: "hour|name=value" or "hour|route|name=value" lines.
int ShowStored(const config::Config& cfg, bool routes) {
  auto store = OpenStore(cfg);
  if (!store) return log::Error("statistics database: {}", store.error()), 1;
  uint32_t since = stats::Store::HourOf(std::time(nullptr)) - stats::Store::kRetentionHours;
  auto rows = routes ? (*store)->Routes(since) : (*store)->Hourly(since);
  if (!rows) return log::Error("statistics database: {}", rows.error()), 1;
  std::string out;
  for (const auto& r : *rows) {
    out += HourText(r.hour) + "|";
    if (routes) out += r.route + "|";
    out += fmt::format("{}={}\n", r.name, r.value);
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

int ShowStats(Context& ctx) {
  std::vector<std::string> args = ctx.args;
  bool inbound = std::erase(args, "--inbound") > 0;
  bool json = std::erase(args, "--json") > 0;
  if (inbound && args == std::vector<std::string>{"--routes"}) return ShowInbound(ctx.cfg, json);
  std::string mode = json ? "--json" : args.empty() ? "" : args[0];
  if (inbound || args.size() > 1 || (json && !args.empty()) ||
      (!mode.empty() && mode != "--json" && mode != "--hourly" && mode != "--routes")) {
    log::Error("usage: postern show stats [--json | --hourly | --routes [--inbound [--json]]]");
    return 1;
  }
  if (mode == "--hourly" || mode == "--routes") return ShowStored(ctx.cfg, mode == "--routes");
  auto s = Gather(ctx.cfg);
  if (!s) return log::Error("{}", s.error()), 1;
  std::string out;
  if (mode == "--json") {
    out = "{";
    for (const auto& [k, v] : s->values) out += fmt::format("{}: {}, ", JsonString(k), v);
    out += "\"uptime.human\": " + JsonString(s->uptime_human) + "}\n";
  } else {
    std::map<std::string, std::string> lines;  // sorted, uptime.human among the numbers
    for (const auto& [k, v] : s->values) lines[k] = std::to_string(v);
    lines["uptime.human"] = s->uptime_human;
    for (const auto& [k, v] : lines) out += k + "=" + v + "\n";
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

// smtpctl's monitor: a row a second, the header every 25 rows; the first row
// absolute, then increments, "curr" columns always absolute.
int Monitor(Context& ctx) {
  unsigned long long interval = 1, count = 0;
  if (ctx.args.size() > 2 || (!ctx.args.empty() && (!ParseUnsigned(ctx.args[0], &interval) || interval == 0)) ||
      (ctx.args.size() == 2 && !ParseUnsigned(ctx.args[1], &count))) {
    log::Error("usage: postern monitor [interval [count]]");
    return 1;
  }
  std::map<std::string, uint64_t> last;
  for (unsigned long long row = 0; count == 0 || row < count; ++row) {
    if (row > 0) sleep(unsigned(interval));
    auto s = Gather(ctx.cfg);
    if (!s) return log::Error("{}", s.error()), 1;
    auto& v = s->values;
    auto d = [&](const char* k) { return v[k] - (row ? std::min(last[k], v[k]) : 0); };
    if (row % 25 == 0) {
      std::printf("--- client ---  -- envelope --   ---- relay/delivery --- ------- misc -------  ------ checks ------\n"
                  "curr conn disc  curr  enq  deq   ok tmpfail prmfail loop expire remove bounce  drop early limit rcpt\n");
    }
    uint64_t rcpt_rejects = 0;  // every restriction's RCPT refusals (smtp.check.CHECK.reject)
    for (const auto& [k, n] : v)
      if (k.rfind("smtp.check.", 0) == 0 && k.ends_with(".reject") && k != "smtp.check.limit.reject" &&
          k != "smtp.check.pregreet.reject")
        rcpt_rejects += n - (row ? std::min(last[k], n) : 0);
    std::printf("%4llu %4llu %4llu  %4llu %4llu %4llu %4llu %7llu %7llu %4llu %6llu %6llu %6llu  %4llu %5llu %5llu %4llu\n",
                (unsigned long long)v["smtp.session.active"], (unsigned long long)d("smtp.session"),
                (unsigned long long)d("smtp.session.closed"), (unsigned long long)v["scheduler.envelope"],
                (unsigned long long)d("smtp.recipient"), (unsigned long long)d("queue.envelope.removed"),
                (unsigned long long)d("scheduler.delivery.ok"), (unsigned long long)d("scheduler.delivery.tempfail"),
                (unsigned long long)d("scheduler.delivery.permfail"), (unsigned long long)d("scheduler.delivery.loop"),
                (unsigned long long)d("scheduler.envelope.expired"), (unsigned long long)d("scheduler.envelope.removed"),
                (unsigned long long)d("bounce.envelope"), (unsigned long long)d("smtp.session.dropped"),
                (unsigned long long)d("smtp.check.pregreet.reject"), (unsigned long long)d("smtp.check.limit.reject"),
                (unsigned long long)rcpt_rejects);
    std::fflush(stdout);
    last = v;
  }
  return 0;
}

}  // namespace

const std::vector<Command>& StatsCommands();
const std::vector<Command>& StatsCommands() {
  static const std::vector<Command> commands = {
      {{"show", "stats"}, "[--json|--hourly|--routes [--inbound [--json]]]",
       "counters: live, totals, per hour, per route, per inbound route and day", ShowStats},
      {{"monitor"}, "[interval [count]]", "a row of counter changes every interval seconds", Monitor},
  };
  return commands;
}

}  // namespace postern::ctl
