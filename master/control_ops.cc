// master/control_ops.cc — the operator's runtime controls master answers or
// relays (ipc/control.h has the design): log brief|verbose, trace|untrace,
// profile|unprofile, set option (name=value or OPTN's ±name) / show options
// (runtime main.cf overrides, cleared by reload), update table, show sessions,
// kill session, show stats.
#include <fmt/format.h>

#include <chrono>

#include "master/control.h"
#include "master/option_syntax.h"
#include "postern/config/params.h"
#include "postern/ipc/control.h"
#include "postern/log/log.h"

namespace postern::master {

namespace {

namespace ctlproto = ipc::control;

// Master's start, for show stats' uptime (initialised as master starts).
const auto kStarted = std::chrono::system_clock::now();

constexpr std::string_view kTraceable[] = {"smtp", "transfer", "bounce", "scheduler", "expand",
                                           "lookup", "io",       "ipc",    "all"};
constexpr std::string_view kProfilable[] = {"queue", "ipc", "all"};

// Parameters a running system cannot adopt: paths, identities and what
// master itself set up at start (listeners, logging, the process layout).
constexpr std::string_view kNeedRestart[] = {
    "command_directory", "config_directory", "daemon_directory", "data_directory",
    "import_environment", "inet_interfaces", "inet_protocols",  "mail_owner",
    "maillog_file",      "policy_cache_database", "process_id_directory", "queue_directory",
    "stats_database",    "syslog_facility",  "syslog_name",
};

template <size_t N>
bool OneOf(const std::string_view (&set)[N], std::string_view s) {
  for (auto v : set)
    if (v == s) return true;
  return false;
}

std::string Joined(const std::set<std::string>& s) {
  std::string out;
  for (const auto& v : s) out += (out.empty() ? "" : " ") + v;
  return out.empty() ? "none" : out;
}

// Answers once every running worker has the new state (a link delivers in
// order: a worker answering "sync" has applied every state frame before it),
// so that the operator's next step meets it.
void Synced(std::shared_ptr<ctlproto::Reply> reply) {
  ctlproto::Request sync{{"sync"}, 1};
  Broadcast("", Aggregate::kAll)(sync, std::move(reply));
}

void SetLog(bool verbose, const ctlproto::Request& req, std::shared_ptr<ctlproto::Reply> reply) {
  if (!req.Args().empty()) return reply->Fail("usage: log brief|verbose");
  TheControl().Update([&](ctlproto::RuntimeState& s) { s.verbose = verbose; });
  log::SetLevel(verbose ? log::Level::kVerbose : log::Level::kBrief);
  log::Info("log level set to {} by administrator", verbose ? "verbose" : "brief");
  reply->Line(std::string("logging ") + (verbose ? "verbose" : "brief"));
  Synced(std::move(reply));
}

// trace/untrace and profile/unprofile: one subsystem set each.
ctlproto::Handler Toggle(bool trace, bool on) {
  return [trace, on](const ctlproto::Request& req, std::shared_ptr<ctlproto::Reply> reply) {
    auto args = req.Args();
    std::string what = trace ? "trace" : "profile";
    std::string verb = on ? what : "un" + what;
    std::string_view valid = trace ? "smtp, transfer (mta), bounce, scheduler, expand, lookup, io, ipc or all"
                                   : "queue, ipc or all";
    if (args.size() != 1) return reply->Fail(fmt::format("usage: {} SUBSYSTEM ({})", verb, valid));
    std::string sub = args[0] == "mta" ? "transfer" : args[0];
    if (!(trace ? OneOf(kTraceable, sub) : OneOf(kProfilable, sub)))
      return reply->Fail(fmt::format("{}: unknown subsystem \"{}\" ({})", verb, args[0], valid));
    TheControl().Update([&](ctlproto::RuntimeState& s) {
      auto& set = trace ? s.traces : s.profiles;
      if (!on && sub == "all") set.clear();
      else if (on) set.insert(sub);
      else set.erase(sub);
    });
    const auto& st = TheControl().state();
    log::SetTraces(st.traces);
    log::SetProfiles(st.profiles);
    log::Info("{} {} by administrator", verb, sub);
    reply->Line(fmt::format("{}: {}", trace ? "tracing" : "profiling", Joined(trace ? st.traces : st.profiles)));
    Synced(std::move(reply));
  };
}

// name=value, or smtpf's OPTN +name / -name for booleans (option_syntax.h);
// every setting is checked before any is applied.
void SetOption(const ctlproto::Request& req, std::shared_ptr<ctlproto::Reply> reply) {
  auto settings = ParseSetOption(req.Args());
  if (!settings) return reply->Fail(settings.error());
  for (const auto& [name, value] : *settings)
    if (OneOf(kNeedRestart, name))
      return reply->Fail("set option: " + name + " cannot change while postern runs; set it in main.cf and "
                         "restart (postern stop; postern start)");
  TheControl().Update([&](ctlproto::RuntimeState& s) {
    for (const auto& [name, value] : *settings) s.options[name] = value;
  });
  for (const auto& [name, value] : *settings) {
    log::Info("option {} = {} set by administrator (until the next reload)", name, value);
    reply->Line(name + " = " + value);
  }
  Synced(std::move(reply));
}

void ShowOptions(const ctlproto::Request& req, std::shared_ptr<ctlproto::Reply> reply) {
  if (!req.Args().empty()) return reply->Fail("show options takes no arguments");
  for (const auto& [k, v] : TheControl().state().options) reply->Line(k + " = " + v);
  reply->Finish();
}

std::string Human(long long s) {
  return fmt::format("{}d{}h{}m{}s", s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
}

// uptime from master; every smtpd adds its open sessions (ctl sums them).
void ShowStats(const ctlproto::Request& req, std::shared_ptr<ctlproto::Reply> reply) {
  auto up = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - kStarted).count();
  reply->Line(fmt::format("uptime={}", up));
  reply->Line("uptime.human=" + Human(up));
  reply->Line("smtp.session.active=0");  // the sum's start when no smtpd runs
  static const ctlproto::Handler smtpd = Broadcast("smtpd", Aggregate::kAll);
  smtpd(req, std::move(reply));
}

// update table NAME with no running worker holding it: fine when some
// parameter names that file, since whoever opens it next reads it fresh.
bool NamedInConfig(const std::vector<std::string>& words) {
  if (words.size() != 3) return false;
  std::string path = words[2];
  if (auto colon = path.find(':'); colon != std::string::npos && path[0] != '/') path.erase(0, colon + 1);
  if (path.empty()) return false;
  const config::Config& cfg = TheControl().config();
  for (const auto& def : config::Registry()) {
    auto v = cfg.Get(def.name);
    if (!v) continue;
    for (size_t at = v->find(path); at != std::string::npos; at = v->find(path, at + 1)) {
      size_t end = at + path.size();
      bool whole = (at == 0 || std::string_view(" \t,:{").find((*v)[at - 1]) != std::string_view::npos) &&
                   (end == v->size() || std::string_view(" \t,}").find((*v)[end]) != std::string_view::npos);
      if (whole) {
        log::Info("table {} reloaded by administrator (no running process holds it)", words[2]);
        return true;
      }
    }
  }
  return false;
}

const ctlproto::Registration kLogBrief({"log", "brief"},
                                       [](const ctlproto::Request& r, std::shared_ptr<ctlproto::Reply> p) {
                                         SetLog(false, r, std::move(p));
                                       });
const ctlproto::Registration kLogVerbose({"log", "verbose"},
                                         [](const ctlproto::Request& r, std::shared_ptr<ctlproto::Reply> p) {
                                           SetLog(true, r, std::move(p));
                                         });
const ctlproto::Registration kTrace({"trace"}, Toggle(true, true));
const ctlproto::Registration kUntrace({"untrace"}, Toggle(true, false));
const ctlproto::Registration kProfile({"profile"}, Toggle(false, true));
const ctlproto::Registration kUnprofile({"unprofile"}, Toggle(false, false));
const ctlproto::Registration kSetOption({"set", "option"}, SetOption);
const ctlproto::Registration kShowOptions({"show", "options"}, ShowOptions);
const ctlproto::Registration kShowStats({"show", "stats"}, ShowStats);
// Answered by the workers that hold sessions or tables.
const ctlproto::Registration kShowSessions({"show", "sessions"}, Broadcast("smtpd", Aggregate::kAll));
const ctlproto::Registration kKillSession({"kill", "session"}, Broadcast("smtpd", Aggregate::kAny));
// Every worker holding the table rereads it (the skeleton answers for all
// of them); when none holds it now, it is enough that main.cf names it.
const ctlproto::Registration kUpdateTable({"update", "table"}, Broadcast("", Aggregate::kAny, NamedInConfig));

}  // namespace

}  // namespace postern::master
