// local/main.cc — the local delivery agent: reads one delivery request from
// qmgr, delivers each recipient in turn (synchronously: one client per
// worker, as Postfix's local), answers one result per recipient. See local(8).
#include <sys/stat.h>

#include <chrono>
#include <memory>
#include <vector>

#include "local/deliver.h"
#include "postern/ipc/delivery.h"
#include "postern/log/log.h"
#include "postern/queue/ids.h"
#include "postern/mda/message.h"
#include "postern/server/delivery_agent.h"
#include "postern/table/surrogate.h"

using namespace postern;

namespace {

// The owner of an alias table's file: its commands and files run as that
// user (root-owned tables: default_privs). nullopt for tables without a file.
std::optional<uid_t> TableOwner(const config::TableRef& ref) {
  std::string path;
  if (ref.type == "lmdb") path = ref.name + ".lmdb";
  else if (ref.type == "texthash" || ref.type == "cidr" || ref.type == "regexp" || ref.type == "pcre")
    path = ref.name;
  if (path.empty()) return std::nullopt;
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return std::nullopt;
  return st.st_uid;
}

// Everything of the agent that main.cf decides, except the queue: at start,
// and again when `postern set option` changes the overrides.
Result<void> Configure(const config::Config& cfg, local::Agent* agent) {
  auto s = local::Settings::Load(cfg);
  if (!s) return Err(s.error());
  agent->settings = std::move(*s);
  const local::Settings& st = agent->settings;
  for (const config::TableRef& ref : st.alias_maps) {
    // As Postfix: the agent keeps running; what needs the table is deferred.
    agent->aliases.push_back(table::OpenOrSurrogate("alias_maps", ref));
    agent->alias_owners.push_back(TableOwner(ref));
  }
  auto router = route::Router::FromConfig(cfg);
  if (!router) return Err(router.error());
  agent->router = std::make_unique<route::Router>(std::move(*router));
  if (local::Privileged()) {
    agent->default_privs = local::UserByName(st.default_privs);
    if (!agent->default_privs) return Err("default_privs: unknown user " + st.default_privs);
    if (agent->default_privs->uid == 0) return Err("default_privs: must not be a privileged user");
  }
  return {};
}

// `set option`: the next delivery uses the new settings; a value that does
// not work keeps the previous ones.
void Adopt(server::Context& ctx, const ipc::control::RuntimeState& old, local::Agent* agent) {
  if (ctx.runtime.options == old.options) return;
  local::Agent fresh;
  if (auto r = Configure(ctx.config, &fresh); !r)
    return log::Warning("set option: {}; keeping the previous settings", r.error());
  auto cl = cleanup::Cleanup::FromConfig(ctx.config, agent->queue.get());
  if (!cl) return log::Warning("set option: {}; keeping the previous settings", cl.error());
  fresh.queue = std::move(agent->queue);
  fresh.cleanup = std::move(*cl);
  *agent = std::move(fresh);
  server::LogOptionsAdopted(ctx, old);
}

Result<void> Init(server::Context& ctx, local::Agent* agent) {
  if (auto r = Configure(ctx.config, agent); !r) return r;
  const local::Settings& st = agent->settings;
  auto q = mda::OpenQueue(ctx.config, st.queue_directory);
  if (!q) return Err(q.error());
  agent->queue = std::move(*q);
  auto cl = cleanup::Cleanup::FromConfig(ctx.config, agent->queue.get());
  if (!cl) return Err(cl.error());
  agent->cleanup = std::move(*cl);
  return {};
}

// One qmgr request: each recipient in turn, one result each.
std::vector<ipc::DeliveryResult> Deliver(local::Agent& agent, ipc::DeliveryRequest req) {
  auto started = std::chrono::steady_clock::now();
  local::Message m;
  m.req = std::move(req);
  m.msgid = queue::FormatMsgId(m.req.message_id);
  std::string why = local::LoadMessage(*agent.queue, &m);
  std::vector<ipc::DeliveryResult> out;
  for (const ipc::DeliveryRecipient& rcpt : m.req.recipients) {
    if (!why.empty()) {
      out.push_back({rcpt.envelope_id, ipc::DeliveryStatus::kDeferred, "4.3.0", why, "none"});
      log::Info("{}: to=<{}>, relay=none, {}, dsn=4.3.0, status=deferred ({})", m.msgid, rcpt.address,
                log::FormatDelays(0, 0, 0, 0, 0), why);
    } else {
      out.push_back(local::RecipientDelivery(agent, m, rcpt, started).Run());
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  return server::RunAgentWithState<local::Agent>("local", argc, argv, Init, Deliver, Adopt);
}
