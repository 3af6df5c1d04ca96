// smtpd/sessions_control.cc — the control requests every smtpd worker
// answers (ipc/control.h): show sessions, kill session ID,
// and its share of show stats (the sessions open now).
#include <fmt/format.h>

#include <charconv>
#include <chrono>

#include "postern/ipc/control.h"
#include "postern/log/log.h"
#include "smtpd/sessions.h"

namespace postern::smtpd::sessions {

namespace {

namespace ctlproto = ipc::control;

double Seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

// Reads an entry's private fields for the listing.
struct Lister {
  static std::string Line(const Entry& e, std::chrono::steady_clock::time_point now) {
    return fmt::format("{:016x}|{}|{}[{}]|{:.0f}|{:.0f}|{}|{}", e.id_, e.state_, *e.name_, *e.addr_,
                       Seconds(now - e.start_), Seconds(now - e.last_), e.in_, e.out_);
  }
  static std::string Who(const Entry& e) { return *e.name_ + "[" + *e.addr_ + "]"; }
  static void Kill(Entry& e) {
    if (e.kill_) e.kill_();
  }
};

namespace {

// id|state|client|age|idle|octets in|octets out, one line per session.
void ShowSessions(const ctlproto::Request& req, std::shared_ptr<ctlproto::Reply> reply) {
  if (!req.Args().empty()) return reply->Fail("show sessions takes no arguments");
  auto now = std::chrono::steady_clock::now();
  for (const auto& [id, e] : Registry()) reply->Line(Lister::Line(*e, now));
  reply->Finish();
  if (log::Profiling("ipc"))
    log::Info("profile: ipc: show sessions: {} sessions listed in {} us", Registry().size(),
              std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - now).count());
}

void KillSession(const ctlproto::Request& req, std::shared_ptr<ctlproto::Reply> reply) {
  auto args = req.Args();
  uint64_t id = 0;
  if (args.size() != 1 || args[0].size() != 16 ||
      std::from_chars(args[0].data(), args[0].data() + 16, id, 16).ptr != args[0].data() + 16)
    return reply->Fail("usage: kill session ID (16 hex digits, as show sessions prints it)");
  auto it = Registry().find(id);
  if (it == Registry().end()) return reply->Fail("no such session: " + args[0]);
  log::Info("session {} from {} killed by administrator", args[0], Lister::Who(*it->second));
  Lister::Kill(*it->second);
  reply->Line("command succeeded");
  reply->Finish();
}

void ShowStats(const ctlproto::Request&, std::shared_ptr<ctlproto::Reply> reply) {
  reply->Line(fmt::format("smtp.session.active={}", Active()));
  reply->Finish();
}

const ctlproto::Registration kShowSessions({"show", "sessions"}, ShowSessions);
const ctlproto::Registration kKillSession({"kill", "session"}, KillSession);
const ctlproto::Registration kShowStats({"show", "stats"}, ShowStats);

}  // namespace

}  // namespace postern::smtpd::sessions
