// ctl/lifecycle.cc — start, start-fg, stop, abort, reload, restart, status, check:
// the postfix-script part of `postern`, with Postfix's messages and exits.
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <set>
#include <thread>

#include "ctl/check_agents.h"
#include "ctl/commands.h"
#include "ctl/lifecycle.h"
#include "postern/config/audit.h"
#include "postern/config/compat.h"
#include "postern/config/layout.h"
#include "postern/config/mastercf.h"
#include "postern/mda/pipe_attr.h"
#include "postern/smtp/address.h"
#include "postern/table/cidr.h"
#include "postern/table/pattern.h"

namespace postern::ctl {

namespace {

Voice& CurrentVoice() {
  static Voice v;
  return v;
}

void Say(const std::string& text) { std::fprintf(stderr, "%s: %s\n", CurrentVoice().script.c_str(), text.c_str()); }

// "the postern mail system", or Postfix's words under the postfix command.
std::string System() { return "the " + CurrentVoice().system + " mail system"; }

std::string PidFile(const config::Config& cfg) {
  std::string dir = cfg.Str("process_id_directory");
  if (dir.empty() || dir[0] != '/') dir = cfg.Str("queue_directory") + "/" + dir;
  return dir + "/master.pid";
}

}  // namespace

// master holds an exclusive lock on its pid file for as long as it lives.
std::optional<pid_t> MasterPid(const config::Config& cfg) {
  int fd = open(PidFile(cfg).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::optional<pid_t> pid;
  if (flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
    char buf[32] = {};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    long v = n > 0 ? std::strtol(buf, nullptr, 10) : 0;
    if (v > 0) pid = pid_t(v);
  }
  close(fd);
  return pid;
}

namespace {

bool WaitGone(const config::Config& cfg, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (MasterPid(cfg)) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::string MasterPath(const config::Config& cfg) { return cfg.Str("daemon_directory") + "/master"; }

// Signals a running master; 1 with Postfix's line when there is none.
int SignalMaster(Context& ctx, int signo, const std::string& doing, std::optional<pid_t>* out = nullptr) {
  auto pid = MasterPid(ctx.cfg);
  if (!pid) {
    Say("fatal: " + System() + " is not running");
    return 1;
  }
  Say(doing);
  if (kill(*pid, signo) != 0) {
    Say(std::string("fatal: signal master pid ") + std::to_string(*pid) + ": " + std::strerror(errno));
    return 1;
  }
  if (out) *out = pid;
  return 0;
}

// Starts master in the background once the checks have passed.
int Launch(Context& ctx) {
  Say("starting " + System());
  std::string master = MasterPath(ctx.cfg);
  pid_t pid = fork();
  if (pid < 0) {
    Say(std::string("fatal: fork: ") + std::strerror(errno));
    return 1;
  }
  if (pid == 0) {
    execl(master.c_str(), master.c_str(), "-c", ctx.config_dir.c_str(), "-w", static_cast<char*>(nullptr));
    Say("fatal: execute " + master + ": " + std::strerror(errno));
    _exit(1);
  }
  // master -w returns once the daemon listens, or says why it could not.
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

int Start(Context& ctx) {
  if (MasterPid(ctx.cfg)) {
    Say("fatal: " + System() + " is already running");
    return 1;
  }
  if (PrintProblems(CheckInstance(ctx), false) > 0) return 1;
  return Launch(ctx);
}

int StartForeground(Context& ctx) {
  if (MasterPid(ctx.cfg)) {
    Say("fatal: " + System() + " is already running");
    return 1;
  }
  if (PrintProblems(CheckInstance(ctx), false) > 0) return 1;
  std::string master = MasterPath(ctx.cfg);
  execl(master.c_str(), master.c_str(), "-c", ctx.config_dir.c_str(), "-d", static_cast<char*>(nullptr));
  Say("fatal: execute " + master + ": " + std::strerror(errno));
  return 1;
}

int Stop(Context& ctx) {
  if (int rc = SignalMaster(ctx, SIGTERM, "stopping " + System()); rc != 0) return rc;
  // master waits up to stop_grace_time for busy workers, then kills them.
  auto limit = std::chrono::milliseconds(ctx.cfg.Time("stop_grace_time")) + std::chrono::seconds(10);
  if (WaitGone(ctx.cfg, limit)) return 0;
  Say("warning: master did not stop in time; see the mail log");
  return 1;
}

// smtpf's -restart / -restart-if: the new configuration is checked before
// the running system is stopped, so a broken main.cf never ends in an outage;
// then stop (the old master is gone: its pid file lock is free) and start.
int Restart(Context& ctx) {
  bool if_running = false;
  for (const auto& a : ctx.args) {
    if (a != "--if-running") {
      Say("fatal: usage: postern restart [--if-running]");
      return 1;
    }
    if_running = true;
  }
  bool running = MasterPid(ctx.cfg).has_value();
  if (!running && if_running) {
    Say(System() + " is not running; not restarting");
    return 0;
  }
  if (PrintProblems(CheckInstance(ctx), false) > 0) {
    if (running) Say("fatal: not restarting: the running mail system is left as it is");
    return 1;
  }
  if (running) {
    if (int rc = Stop(ctx); rc != 0) return rc;
  }
  return Launch(ctx);
}

int Abort(Context& ctx) {
  if (int rc = SignalMaster(ctx, SIGINT, "aborting " + System()); rc != 0) return rc;
  return WaitGone(ctx.cfg, std::chrono::seconds(10)) ? 0 : 1;
}

int Reload(Context& ctx) { return SignalMaster(ctx, SIGHUP, "refreshing " + System()); }

int Status(Context& ctx) {
  if (auto pid = MasterPid(ctx.cfg)) {
    Say(System() + " is running: PID: " + std::to_string(*pid));
    return 0;
  }
  Say(System() + " is not running");
  return 1;
}

int Check(Context& ctx) { return PrintProblems(CheckInstance(ctx), false) > 0 ? 1 : 0; }

void CheckDir(const std::string& what, const std::string& path, std::optional<uid_t> owner, std::vector<Problem>* out) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) out->push_back({false, what + " " + path + ": " + std::strerror(errno)});
    return;  // master creates what is missing
  }
  if (!S_ISDIR(st.st_mode)) out->push_back({false, what + " " + path + " is not a directory"});
  else if (owner && st.st_uid != *owner)
    out->push_back({true, what + " " + path + " is not owned by mail_owner (master fixes this at start)"});
}

// Address lists that smtpd reads as networks: an entry that is neither an
// address, a network, a type:table nor a host name stops every smtpd at
// start; a host name is resolved by smtpd (a warning: until it resolves,
// permit_mynetworks answers 451 4.3.5 to clients no other entry matches).
void CheckNetworkLists(const config::Config& cfg, const std::string& where, std::vector<Problem>* out) {
  for (const char* param : {"mynetworks", "smtpd_client_event_limit_exceptions", "smtpd_forbid_bare_newline_exclusions"}) {
    auto entries = cfg.GetList(param);
    if (!entries) continue;  // Validate() says why
    for (const std::string& e : *entries) {
      std::string why;
      if (table::ParseNetwork(e, &why) || (e.find(':') != std::string::npos && e.front() != '[')) continue;
      if (smtp::IsValidDomain(e, false)) {
        out->push_back({true, where + param + ": host name " + e + ": smtpd resolves it (A/AAAA) when it starts; "
                                                                  "while it does not resolve, clients that no other "
                                                                  "entry matches get 451 4.3.5"});
        continue;
      }
      out->push_back({false, where + param + ": " + why + " (neither an address, a network, a host name nor a "
                                                          "table)"});
    }
  }
}

// A pipe(8) service: its attributes as pipe reads them, and root to run as
// (it runs each command as user=). A missing account stops only deliveries.
void CheckPipeService(const config::Config& cfg, const config::MasterService& s, const std::string& where,
                      std::vector<Problem>* out) {
  mda::ForbiddenIds owner;
  owner.name = cfg.Str("mail_owner");
  if (auto pw = mda::UserByName(owner.name)) {
    owner.uid = pw->uid;
    owner.gid = pw->gid;
  }
  auto attr = mda::ParsePipeAttr(s.args, owner);
  if (!attr && mda::IsUnknownAccount(attr.error()))
    out->push_back({true, where + "pipe: " + attr.error() + " (mail routed to this service is deferred)"});
  else if (!attr)
    out->push_back({false, where + "pipe: " + attr.error()});
  if (s.IsUnprivileged())
    out->push_back({false, where + "pipe(8) runs commands as user=: set the unpriv column to n"});
}

// Names main.cf may set that Validate() cannot know from main.cf alone, as
// Postfix's postconf knows them from master.cf: per-transport scheduler
// parameters (SERVICE_destination_recipient_limit, ... that qmgr reads) and
// parameters that a service's -o value refers to ($mua_client_restrictions).
std::set<std::string> UsedByMasterCf(const std::vector<config::MasterService>& defs) {
  static constexpr std::string_view kPerTransport[] = {
      "_destination_concurrency_limit", "_initial_destination_concurrency",
      "_destination_concurrency_failed_cohort_limit", "_destination_recipient_limit",
      "_destination_concurrency_negative_feedback", "_destination_concurrency_positive_feedback"};
  std::set<std::string> used;
  for (const auto& s : defs) {
    if (s.type == "unix")
      for (std::string_view suffix : kPerTransport) used.insert(s.service + std::string(suffix));
    for (const auto& [name, value] : s.overrides)
      for (size_t i = value.find('$'); i != std::string::npos; i = value.find('$', i + 1)) {
        size_t b = i + 1 + (i + 1 < value.size() && (value[i + 1] == '{' || value[i + 1] == '(')), e = b;
        while (e < value.size() && (std::isalnum(static_cast<unsigned char>(value[e])) || value[e] == '_')) ++e;
        if (e > b) used.insert(value.substr(b, e - b));
      }
  }
  return used;
}

bool IsUnusedWarningFor(const std::string& text, const std::set<std::string>& names) {
  size_t at = text.find("unused parameter: ");
  if (at == std::string::npos) return false;
  size_t b = at + std::strlen("unused parameter: ");
  return names.count(text.substr(b, text.find('=', b) - b)) > 0;
}

// regexp: and pcre: tables as their programs will load them: skipped rules
// are warnings (file, line, problem), an unusable file an error.
void CheckPatternTables(const config::Config& cfg, std::vector<Problem>* out) {
  std::set<std::string> seen;
  for (const config::NamedTable& t : config::NamedTables(cfg)) {
    if (t.ref.type != "regexp" && t.ref.type != "pcre") continue;
    if (!seen.insert(t.ref.ToString()).second) continue;
    auto dialect = t.ref.type == "pcre" ? table::Dialect::kPcre : table::Dialect::kRegexp;
    auto r = table::CheckPatternFile(dialect, t.ref.name);
    if (!r) {
      out->push_back({false, t.param + ": " + t.ref.ToString() + ": " + r.error()});
      continue;
    }
    for (const std::string& w : *r) out->push_back({true, w});
  }
}

// reject_unverified_sender/recipient ask verify(8) at
// private/$address_verify_service_name: without that service every such
// RCPT is answered 451 4.3.0. `where` and `only` narrow it to a service's -o.
void CheckVerifyService(const config::Config& cfg, const std::vector<config::MasterService>& defs,
                        const std::string& where, const std::function<bool(std::string_view)>& only,
                        std::vector<Problem>* out) {
  std::string name = cfg.Str("address_verify_service_name");
  for (const auto& d : defs) {
    config::ServicePlan plan = config::PlanService(d);
    if (d.service == name && d.type == "unix" && plan.run && plan.def.command == "verify") return;
  }
  for (std::string_view r : {"reject_unverified_sender", "reject_unverified_recipient"}) {
    std::string param = config::RestrictionUse(cfg, r, only);
    if (param.empty()) continue;
    out->push_back({true, where + param + ": " + std::string(r) + " asks the address verification service, but "
                              "master.cf has no \"" + name + " unix ... verify\" service; smtpd answers 451 4.3.0 "
                              "where it is reached"});
  }
}

}  // namespace

std::vector<Problem> CheckInstance(Context& ctx) {
  std::vector<Problem> out;
  auto master_defs = config::LoadMasterCf(ctx.config_dir);
  std::set<std::string> used = master_defs ? UsedByMasterCf(*master_defs) : std::set<std::string>();
  for (const auto& p : ctx.cfg.Validate())
    if (!p.warning || !IsUnusedWarningFor(p.text, used)) out.push_back({p.warning, p.text});
  for (const auto& f : config::AuditCompat(ctx.cfg)) out.push_back({f.warning, f.text});
  CheckPatternTables(ctx.cfg, &out);
  std::string config_opt = ctx.config_dir == config::InstallLayout().config_dir ? "" : " -c " + ctx.config_dir;
  for (const auto& f : config::AuditAliasDatabases(ctx.cfg, config_opt)) out.push_back({f.warning, f.text});
  CheckNetworkLists(ctx.cfg, "", &out);
  struct stat st;
  if (stat(ctx.config_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    out.push_back({false, "configuration directory " + ctx.config_dir + " does not exist"});
  std::string daemon_dir = ctx.cfg.Str("daemon_directory");
  if (stat(daemon_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    out.push_back({false, "daemon_directory " + daemon_dir + " does not exist"});
  else if (access((daemon_dir + "/master").c_str(), X_OK) != 0)
    out.push_back({false, "daemon_directory " + daemon_dir + " has no master program"});

  std::optional<uid_t> owner;
  if (geteuid() == 0) {
    std::string name = ctx.cfg.Str("mail_owner");
    if (passwd* pw = getpwnam(name.c_str()))
      owner = pw->pw_uid;
    else
      out.push_back({false, "mail_owner " + name + ": no such user (scripts/install-deps creates it)"});
  }
  std::string q = ctx.cfg.Str("queue_directory");
  if (q.empty() || q[0] != '/') {
    out.push_back({false, "queue_directory must be an absolute path: \"" + q + "\""});
  } else {
    CheckDir("queue_directory", q, owner, &out);
    CheckDir("directory", q + "/private", owner, &out);
    CheckDir("directory", q + "/public", owner, &out);
  }

  auto& defs = master_defs;
  if (!defs) {
    out.push_back({false, defs.error()});
    return out;
  }
  CheckVerifyService(ctx.cfg, *defs, "", {}, &out);
  CheckDeliveryAgents(ctx.cfg, ctx.config_dir + "/master.cf", *defs, &out);
  for (const auto& written : *defs) {
    std::string where =
        ctx.config_dir + "/master.cf, line " + std::to_string(written.line) + ": service " + written.Key() + ": ";
    config::ServicePlan plan = config::PlanService(written);
    if (!plan.run) {
      out.push_back({true, where + plan.note + "; not started", true});
      continue;
    }
    const config::MasterService& s = plan.def;
    if (s.type != "inet" && s.type != "unix")
      out.push_back({false, where + "type " + s.type + " is not supported (use inet or unix)"});
    if (s.command == "pipe") CheckPipeService(ctx.cfg, s, where, &out);
    std::string cmd = daemon_dir + "/" + s.command;
    if (access(cmd.c_str(), X_OK) != 0)
      out.push_back({false, where + "command " + cmd + ": " + std::strerror(errno)});
    config::Config with_overrides = ctx.cfg;
    for (const auto& [name, value] : s.overrides) {
      config::Config probe = ctx.cfg;
      probe.Override(name, value);
      with_overrides.Override(name, value);
      for (const auto& p : probe.Validate())
        if (!p.warning && p.text.find(name) != std::string::npos) out.push_back({false, where + "-o " + p.text});
    }
    auto overridden = [&](std::string_view name) {
      for (const auto& o : s.overrides)
        if (o.first == name) return true;
      return false;
    };
    if (!s.overrides.empty()) {
      for (const auto& f : config::AuditCompat(with_overrides, overridden))
        out.push_back({f.warning, where + "-o " + f.text});
      CheckVerifyService(with_overrides, *defs, where + "-o ", overridden, &out);
    }
  }
  return out;
}

void SetVoice(Voice v) { CurrentVoice() = std::move(v); }

int PrintProblems(const std::vector<Problem>& problems, bool errors_only) {
  int errors = 0;
  for (const auto& p : problems) {
    if (!p.warning) ++errors;
    if (p.warning && errors_only) continue;
    Say((p.notice ? "notice: " : p.warning ? "warning: " : "error: ") + p.text);
  }
  return errors;
}

const std::vector<Command>& LifecycleCommands() {
  static const std::vector<Command> kCommands = {
      {{"start"}, "", "start the mail system in the background", Start},
      {{"start-fg"}, "", "run master in the foreground (Ctrl-C stops everything)", StartForeground},
      {{"stop"}, "", "stop: workers finish their clients (stop_grace_time), then exit", Stop},
      {{"abort"}, "", "stop at once: workers are terminated", Abort},
      {{"reload"}, "", "re-read main.cf and master.cf (master keeps running)", Reload},
      {{"restart"}, "[--if-running]", "check, stop, then start (--if-running: only when it runs)", Restart},
      {{"status"}, "", "exit 0 when the mail system is running, 1 when not", Status},
      {{"check"}, "", "validate main.cf, master.cf and the directory tree", Check},
  };
  return kCommands;
}

}  // namespace postern::ctl
