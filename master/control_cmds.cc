// master/control_cmds.cc — the control commands master answers itself
// (show status, show processes, pause/resume smtp|mta|mda) and the relays of the queue
// commands to qmgr (qmgr/control*.cc answers those).
#include <fmt/format.h>

#include "master/control.h"
#include "postern/ipc/control.h"
#include "postern/log/log.h"
#include "postern/queue/space.h"

namespace postern::master {

namespace {

namespace ctlproto = ipc::control;

void ShowStatus(const ctlproto::Request& req, std::shared_ptr<ctlproto::Reply> reply) {
  if (!req.Args().empty()) return reply->Fail("show status takes no arguments");
  const auto& s = TheControl().state();
  reply->Line(std::string("MDA ") + (s.pause_mda ? "paused" : "running"));
  reply->Line(std::string("MTA ") + (s.pause_mta ? "paused" : "running"));
  reply->Line(std::string("SMTP ") + (s.pause_smtp ? "paused" : "running"));
  auto u = queue::ReadFileUsage(TheControl().config().Str("queue_directory"));
  if (u.ok()) {
    double fill = u->map_bytes ? 100.0 * double(u->used_bytes) / double(u->map_bytes) : 0;
    reply->Line(fmt::format("QUEUE file {} bytes, {} bytes in use, map {} bytes ({:.1f}% full)", u->file_bytes,
                            u->used_bytes, u->map_bytes, fill));
  } else {
    reply->Line("QUEUE " + u.status().message);
  }
  reply->Finish();
}

// service|type|command|busy|idle|maxproc, one line a master.cf service.
void ShowProcesses(const ctlproto::Request& req, std::shared_ptr<ctlproto::Reply> reply) {
  if (!req.Args().empty()) return reply->Fail("show processes takes no arguments");
  for (const auto& s : TheControl().Services())
    reply->Line(fmt::format("{}|{}|{}|{}|{}|{}", s.service, s.type, s.command, s.busy, s.idle, s.limit));
  reply->Finish();
}

bool* Flag(ctlproto::RuntimeState& s, std::string_view what) {
  if (what == "smtp") return &s.pause_smtp;
  if (what == "mta") return &s.pause_mta;
  return &s.pause_mda;
}

// As smtpd's control process: pausing what is paused fails.
ctlproto::Handler SetPause(std::string what, bool pause) {
  return [what, pause](const ctlproto::Request& req, std::shared_ptr<ctlproto::Reply> reply) {
    if (!req.Args().empty()) return reply->Fail((pause ? "pause " : "resume ") + what + " takes no arguments");
    ctlproto::RuntimeState copy = TheControl().state();
    std::string upper = what == "smtp" ? "SMTP" : what == "mta" ? "MTA" : "MDA";
    if (*Flag(copy, what) == pause)
      return reply->Fail("command failed: " + upper + (pause ? " is already paused" : " is not paused"));
    TheControl().Update([&](ctlproto::RuntimeState& s) { *Flag(s, what) = pause; });
    log::Info("{} {}", what, pause ? "paused" : "resumed");
    reply->Line("command succeeded");
    // Links deliver in order: once the workers concerned answer "sync", they
    // have applied the new state, so the operator's next step sees it.
    ctlproto::Request sync{{"sync"}, 1};
    Broadcast(what == "smtp" ? "smtpd" : "qmgr", Aggregate::kAll)(sync, std::move(reply));
  };
}

const ctlproto::Registration kShowStatus({"show", "status"}, ShowStatus);
const ctlproto::Registration kShowProcesses({"show", "processes"}, ShowProcesses);
const ctlproto::Registration kPauseSmtp({"pause", "smtp"}, SetPause("smtp", true));
const ctlproto::Registration kPauseMta({"pause", "mta"}, SetPause("mta", true));
const ctlproto::Registration kPauseMda({"pause", "mda"}, SetPause("mda", true));
const ctlproto::Registration kResumeSmtp({"resume", "smtp"}, SetPause("smtp", false));
const ctlproto::Registration kResumeMta({"resume", "mta"}, SetPause("mta", false));
const ctlproto::Registration kResumeMda({"resume", "mda"}, SetPause("mda", false));

// Answered by qmgr, which owns the scheduler and the envelopes in core.
const ctlproto::Registration kQmgr[] = {
    {{"show", "queue"}, RelayToQmgr()},      {{"show", "envelope"}, RelayToQmgr()},
    {{"show", "message"}, RelayToQmgr()},    {{"show", "hosts"}, RelayToQmgr()},
    {{"show", "hoststats"}, RelayToQmgr()},  {{"show", "routes"}, RelayToQmgr()},
    {{"show", "relays"}, RelayToQmgr()},     {{"pause", "envelope"}, RelayToQmgr()},
    {{"resume", "envelope"}, RelayToQmgr()}, {{"resume", "route"}, RelayToQmgr()},
    {{"schedule"}, RelayToQmgr()},           {{"remove"}, RelayToQmgr()},
    {{"discover"}, RelayToQmgr()},           {{"uncorrupt"}, RelayToQmgr()},
};

}  // namespace

}  // namespace postern::master
