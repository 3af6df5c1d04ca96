// ctl/quarantine.cc — the quarantine area seen by people: list it (smtpctl-style
// fields or JSON), release an entry into the queue through cleanup (qmgr then
// delivers it), remove one.
#include "ctl/quarantine.h"

#include <cstdio>
#include <ctime>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "postern/cleanup/cleanup.h"
#include "postern/log/log.h"
#include "postern/queue/quarantine.h"
#include "postern/queue/queue.h"
#include "postern/util/strings.h"

namespace postern::ctl {

namespace {

Result<queue::Quarantine> Open(const Context& ctx) {
  auto limits = queue::QuarantineLimits::FromConfig(ctx.cfg);
  if (!limits) return Err(limits.error());
  return queue::Quarantine(ctx.cfg.Str("queue_directory"), *limits);
}

std::string Line(const queue::QuarantineEntry& e, bool json) {
  if (!json)
    return fmt::format("{}|{}|{}|{}|{}|{}|{}", e.id, e.time, e.size, e.client, e.sender,
                       fmt::join(e.recipients, ","), e.reason);
  std::string rcpts;
  for (const std::string& r : e.recipients) rcpts += (rcpts.empty() ? "" : ",") + JsonString(r);
  return fmt::format(R"({{"id":{},"time":{},"size":{},"client":{},"helo":{},"sender":{},"recipients":[{}],"reason":{}}})",
                     JsonString(e.id), e.time, e.size, JsonString(e.client), JsonString(e.helo), JsonString(e.sender),
                     rcpts, JsonString(e.reason));
}

int Show(Context& ctx) {
  bool json = ctx.args.size() == 1 && ctx.args[0] == "--json";
  if (!ctx.args.empty() && !json) return log::Error("usage: postern show quarantine [--json]"), 1;
  auto q = Open(ctx);
  if (!q) return log::Error("quarantine: {}", q.error()), 1;
  auto all = q->List(std::time(nullptr));
  if (!all) return log::Error("quarantine: {}", all.error()), 1;
  for (const auto& e : *all) std::printf("%s\n", Line(e, json).c_str());
  return 0;
}

// "name[addr]" as the queue record keeps it.
void SplitClient(std::string_view client, queue::MessageRecord* rec) {
  size_t open = client.rfind('[');
  if (open == std::string_view::npos || client.back() != ']') return;
  rec->client_name = client.substr(0, open);
  rec->client_addr = client.substr(open + 1, client.size() - open - 2);
}

// Through cleanup, the one way in: rewriting as for any new message, without
// the header/body checks that refused it.
Result<queue::MsgId> Enqueue(const Context& ctx, const queue::QuarantineEntry& e, const std::string& content) {
  auto opts = queue::OptionsFromConfig(ctx.cfg);
  if (!opts.ok()) return Err(opts.status().message);
  auto q = queue::Queue::Open(ctx.cfg.Str("queue_directory"), *opts);
  if (!q.ok()) return Err(q.status().message);
  auto cl = cleanup::Cleanup::FromConfig(ctx.cfg, q->get());
  if (!cl) return Err(cl.error());
  cleanup::Submission sub;
  sub.record.sender = e.sender;
  sub.record.arrival = std::time(nullptr);
  sub.record.helo = e.helo;
  sub.record.protocol = "ESMTP";
  SplitClient(e.client, &sub.record);
  auto m = (*cl)->Begin(std::move(sub));
  if (!m.ok()) return Err(m.status().message);
  for (const std::string& r : e.recipients)
    if (auto s = (*m)->AddRecipient({r, "", 0}); !s.ok()) return Err(s.message);
  if (auto s = (*m)->Append(content); !s.ok()) return Err(s.message);
  if (auto s = (*m)->Finish(); !s.ok()) return Err(s.message);
  auto id = (*cl)->Commit(std::move(*m));  // wakes qmgr
  if (!id.ok()) return Err(id.status().message);
  return *id;
}

int Release(Context& ctx) {
  if (ctx.args.size() != 1 || !queue::Quarantine::IsId(ctx.args[0]))
    return log::Error("usage: postern release ID (Q and 8 hex digits, as show quarantine prints it)"), 1;
  auto q = Open(ctx);
  if (!q) return log::Error("quarantine: {}", q.error()), 1;
  auto entry = q->Read(ctx.args[0]);
  if (!entry) return log::Error("release: {}", entry.error()), 1;
  auto id = Enqueue(ctx, entry->first, entry->second);
  if (!id) return log::Error("release {}: queue: {}", ctx.args[0], id.error()), 1;
  // Queued first, removed after: a failure here leaves a copy, never nothing.
  if (auto r = q->Remove(ctx.args[0]); !r) log::Warning("release {}: {}", ctx.args[0], r.error());
  std::printf("%s: released as %s\n", ctx.args[0].c_str(), queue::FormatMsgId(*id).c_str());
  return 0;
}

}  // namespace

bool IsQuarantineArg(const Context& ctx) { return ctx.args.size() == 1 && queue::Quarantine::IsId(ctx.args[0]); }

int RemoveQuarantined(Context& ctx) {
  auto q = Open(ctx);
  if (!q) return log::Error("quarantine: {}", q.error()), 1;
  if (auto r = q->Remove(ctx.args[0]); !r) return log::Error("remove: {}", r.error()), 1;
  return 0;
}

const std::vector<Command>& QuarantineCommands() {
  static const std::vector<Command> commands = {
      {{"show", "quarantine"}, "[--json]", "messages refused after DATA and kept (id|time|size|client|sender|rcpts|reason)", Show},
      {{"release"}, "ID", "queue a quarantined message for delivery", Release},
  };
  return commands;
}

}  // namespace postern::ctl
