// ctl/control.cc — `postern show|pause|resume|schedule|remove|...`: checks
// the arguments (ids: 8 hex digits a message, 16 an envelope), sends the
// request to master's control socket and prints the streamed answer.
#include "ctl/control.h"
#include "ctl/quarantine.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "ctl/offline.h"
#include "postern/event/event.h"
#include "postern/ipc/control.h"
#include "postern/ipc/control_client.h"
#include "postern/ipc/frame.h"
#include "postern/log/log.h"

namespace postern::ctl {

namespace ctlp = ipc::control;

std::string ControlPath(const config::Config& cfg) { return ctlp::ControlPath(cfg); }

bool NotRunning(const std::string& error) { return error.rfind(ctlp::kNotRunning, 0) == 0; }

namespace {

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(size_t(n));
  }
  return true;
}

}  // namespace

Result<void> Call(const config::Config& cfg, const std::vector<std::string>& words,
                  const std::function<void(std::string_view)>& on_text) {
  auto fd = ctlp::Connect(ControlPath(cfg));
  if (!fd) return Err(fd.error());
  std::string req;
  ipc::AppendFrame(ctlp::EncodeRequest(words), &req);
  if (!WriteAll(fd->get(), req)) return Err(std::string("write to master: ") + std::strerror(errno));
  ipc::FrameReader reader(ctlp::kFrameMax);
  std::string buf(64 << 10, '\0'), payload;
  while (true) {
    ssize_t n = ::read(fd->get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Err("lost the connection to master before the end of the answer");
    reader.Feed(std::string_view(buf.data(), size_t(n)));
    ipc::FrameReader::Status st;
    while ((st = reader.Next(&payload)) == ipc::FrameReader::Status::kFrame) {
      if (ctlp::KindOf(payload) == ctlp::Kind::kText) {
        on_text(ctlp::DecodeText(payload));
        continue;
      }
      auto end = ctlp::DecodeEnd(payload);
      if (!end) return Err("malformed answer from master");
      if (!end->ok) return Err(end->error);
      return {};
    }
    if (st == ipc::FrameReader::Status::kTooLong) return Err("malformed answer from master");
  }
}

Result<size_t> CallCount(const config::Config& cfg, const std::vector<std::string>& words) {
  std::string answer;
  auto r = Call(cfg, words, [&answer](std::string_view t) { answer += t; });
  if (!r) return Err(r.error());
  char* end = nullptr;
  unsigned long n = std::strtoul(answer.c_str(), &end, 10);
  if (end == answer.c_str()) return Err("unexpected answer from the queue manager: " + answer);
  return size_t(n);
}

int RunRemote(Context& ctx) {
  std::vector<std::string> words(ctx.command->words.begin(), ctx.command->words.end());
  words.insert(words.end(), ctx.args.begin(), ctx.args.end());
  auto r = Call(ctx.cfg, words, [](std::string_view t) { std::fwrite(t.data(), 1, t.size(), stdout); });
  std::fflush(stdout);
  if (!r) {
    log::Info("{}", r.error());
    return 1;
  }
  return 0;
}

namespace {

std::string Name(const Context& ctx) {
  std::string n;
  for (auto w : ctx.command->words) n += (n.empty() ? "" : " ") + std::string(w);
  return n;
}

int NoArgs(Context& ctx) {
  if (!ctx.args.empty()) {
    log::Info("{} takes no arguments", Name(ctx));
    return 1;
  }
  return RunRemote(ctx);
}

// No argument, or --json (smtpctl's views of qmgr's tables).
int JsonOnly(Context& ctx) {
  if (!ctx.args.empty() && (ctx.args.size() > 1 || ctx.args[0] != "--json")) {
    log::Info("usage: postern {} [--json]", Name(ctx));
    return 1;
  }
  return RunRemote(ctx);
}

// One id argument: which kinds the command takes.
template <bool kAll, bool kEnvelope, bool kMessage>
int IdCommand(Context& ctx) {
  std::string what = std::string(kEnvelope ? "an envelope id" : "") + (kEnvelope && kMessage ? " or " : "") +
                     (kMessage ? "a message id" : "") + (kAll ? " or all" : "");
  if (ctx.args.size() != 1) {
    log::Info("usage: postern {} ID ({})", Name(ctx), what);
    return 1;
  }
  auto id = ctlp::ParseIdArg(ctx.args[0], kAll);
  if (!id) {
    log::Info("{}", id.error());
    return 1;
  }
  if (!id->all && ((id->is_envelope && !kEnvelope) || (!id->is_envelope && !kMessage))) {
    log::Info("{}: {} takes {}", ctx.args[0], Name(ctx), what);
    return 1;
  }
  return RunRemote(ctx);
}

// A queue id goes to qmgr; a quarantine id (Q...) is removed here.
int Remove(Context& ctx) { return IsQuarantineArg(ctx) ? RemoveQuarantined(ctx) : IdCommand<true, true, true>(ctx); }

// Route ids are the 16 hex digits `show routes` prints.
int RouteCommand(Context& ctx) {
  auto id = ctx.args.size() == 1 ? ctlp::ParseIdArg(ctx.args[0], false) : Result<ctlp::IdArg>(Err(""));
  if (!id || !id->is_envelope) {
    log::Info("usage: postern resume route ID (16 hex digits, as show routes prints it)");
    return 1;
  }
  return RunRemote(ctx);
}

int ShowQueue(Context& ctx) {
  bool json = false;
  for (const auto& a : ctx.args) {
    if (a != "--json") {
      log::Info("usage: postern show queue [--json]");
      return 1;
    }
    json = true;
  }
  std::vector<std::string> words = {"show", "queue"};
  if (json) words.push_back("--json");
  auto r = Call(ctx.cfg, words, [](std::string_view t) { std::fwrite(t.data(), 1, t.size(), stdout); });
  std::fflush(stdout);
  if (!r && NotRunning(r.error())) return ShowQueueOffline(ctx.cfg, json);
  if (!r) {
    log::Info("{}", r.error());
    return 1;
  }
  return 0;
}

}  // namespace

const std::vector<Command>& ControlCommands() {
  static const std::vector<Command> commands = {
      {{"show", "queue"}, "[--json]", "list every envelope (smtpctl's fields)", ShowQueue},
      {{"show", "envelope"}, "ID", "one envelope in detail", IdCommand<false, true, false>},
      {{"show", "message"}, "ID", "the raw message of a message or envelope id", IdCommand<false, true, true>},
      {{"show", "status"}, "", "whether smtp, mta and mda are running or paused", NoArgs},
      {{"show", "hosts"}, "[--json]", "remote hosts: connections in use, made, last one", JsonOnly},
      {{"show", "hoststats"}, "[--json]", "last result per domain, last 4 hours", JsonOnly},
      {{"show", "routes"}, "[--json]", "destination queues, then routes (source -> host): flags, penalty", JsonOnly},
      {{"show", "relays"}, "[--json]", "relays (next hop, port, TLS) and their connectors", JsonOnly},
      {{"pause", "smtp"}, "", "stop accepting new SMTP sessions", NoArgs},
      {{"pause", "mta"}, "", "stop remote delivery", NoArgs},
      {{"pause", "mda"}, "", "stop local delivery", NoArgs},
      {{"pause", "envelope"}, "ID|all", "hold envelopes", IdCommand<true, true, true>},
      {{"resume", "smtp"}, "", "accept SMTP sessions again", NoArgs},
      {{"resume", "mta"}, "", "resume remote delivery", NoArgs},
      {{"resume", "mda"}, "", "resume local delivery", NoArgs},
      {{"resume", "envelope"}, "ID|all", "release held envelopes", IdCommand<true, true, true>},
      {{"resume", "route"}, "ID", "revive a suspended route (see show routes)", RouteCommand},
      {{"schedule"}, "ID|all", "make envelopes due now", IdCommand<true, true, true>},
      {{"remove"}, "ID|all", "remove envelopes without a bounce (or a quarantined message)", Remove},
      {{"discover"}, "ID", "re-read envelopes from the queue into the scheduler", IdCommand<false, true, true>},
      {{"uncorrupt"}, "ID", "move a corrupt message back to the queue", IdCommand<false, false, true>},
  };
  return commands;
}

}  // namespace postern::ctl
