// log/log.h — postern's one logging front end (only this module talks to
// spdlog). Lines have Postfix's shape: "postern/smtpd[123]: text" in syslog,
// "Mon dd hh:mm:ss host postern/smtpd[123]: text" in maillog_file;
// warning:/error:/fatal: prefixes as Postfix's msg(3).
#pragma once

#include <fmt/format.h>

#include <set>
#include <string>
#include <string_view>

namespace postern::config {
class Config;
}

namespace postern::log {

enum class Level { kBrief, kVerbose };

// Daemons: syslog (syslog_name/program, syslog_facility), or maillog_file when
// set. Commands (postconf, postern): stderr as "program: text", as Postfix's
// commands do when run by a person.
void InitDaemon(std::string_view program, const config::Config& cfg);
void InitCommand(std::string_view program);
// Re-reads syslog_name/syslog_facility/maillog_file (after a reload).
void Reconfigure(const config::Config& cfg);

void SetLevel(Level level);  // runtime: `postern log verbose|brief`
Level GetLevel();
// One delay figure of a delivery line, as Postfix's format_tv prints it with
// two significant digits and at most two decimals: 0.01 s resolution below
// 1 s, 0.1 s below 10 s, whole seconds above; rounded half up, trailing zeros
// dropped, "0" for anything below 5 ms or negative.
std::string FormatDelay(double seconds);
// "delay=T, delays=a/b/c/d" of a delivery line (Postfix's log_adhoc): the
// total, then before qmgr, in qmgr, connection setup and transmission.
std::string FormatDelays(double total, double before_qmgr, double in_qmgr, double setup, double transmission);

// `postern trace|untrace SUBSYSTEM` and `profile|unprofile SUBSYSTEM`: the
// subsystems (smtp, transfer, bounce, scheduler, expand, lookup, io, ipc;
// profile: queue, ipc) whose extra lines this process writes. "all" in the
// set turns on every subsystem.
void SetTraces(const std::set<std::string>& subsystems);
void SetProfiles(const std::set<std::string>& subsystems);
bool Tracing(std::string_view subsystem);
bool Profiling(std::string_view subsystem);
const std::string& Program();

void Write(int severity, std::string_view text);  // severity: a syslog LOG_* value

template <class... A>
void Info(fmt::format_string<A...> f, A&&... a) { Write(6, fmt::format(f, std::forward<A>(a)...)); }
template <class... A>
void Verbose(fmt::format_string<A...> f, A&&... a) {
  if (GetLevel() == Level::kVerbose) Write(7, fmt::format(f, std::forward<A>(a)...));
}
// "trace: smtp: text" when the subsystem is traced.
template <class... A>
void Trace(std::string_view subsystem, fmt::format_string<A...> f, A&&... a) {
  if (Tracing(subsystem)) Write(6, fmt::format("trace: {}: ", subsystem) + fmt::format(f, std::forward<A>(a)...));
}
template <class... A>
void Warning(fmt::format_string<A...> f, A&&... a) {
  Write(4, "warning: " + fmt::format(f, std::forward<A>(a)...));
}
template <class... A>
void Error(fmt::format_string<A...> f, A&&... a) {
  Write(3, "error: " + fmt::format(f, std::forward<A>(a)...));
}
// Logs "fatal: ..." and exits with status 1.
[[noreturn]] void FatalText(std::string_view text);
template <class... A>
[[noreturn]] void Fatal(fmt::format_string<A...> f, A&&... a) {
  FatalText(fmt::format(f, std::forward<A>(a)...));
}

}  // namespace postern::log
