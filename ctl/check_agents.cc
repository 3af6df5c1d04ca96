// ctl/check_agents.cc — the delivery agent checks of `postern check`; see
// check_agents.h. What virtual(8) refuses at start is an error here, so that
// its mail is not left to wait behind a service that cannot run.
#include "ctl/check_agents.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "postern/config/compat.h"
#include "postern/mda/mailbox.h"
#include "postern/route/route.h"

namespace postern::ctl {

namespace {

const config::MasterService* FindUnixService(const std::vector<config::MasterService>& defs, const std::string& name) {
  for (const auto& d : defs)
    if (d.service == name && d.type == "unix") return &d;
  return nullptr;
}

void CheckMailboxBase(const config::Config& cfg, const std::string& where, std::vector<Problem>* out) {
  std::string base = cfg.Str("virtual_mailbox_base");
  struct stat st {};
  if (base.empty())
    out->push_back({false, where + "virtual_mailbox_base is empty: set it to the directory of the mailboxes"});
  else if (base[0] != '/')
    out->push_back({false, where + "virtual_mailbox_base must be an absolute path: \"" + base + "\""});
  else if (stat(base.c_str(), &st) != 0)
    out->push_back({false, where + "virtual_mailbox_base " + base + ": " + std::strerror(errno) +
                               " (create it, writable by the ids of virtual_uid_maps)"});
  else if (!S_ISDIR(st.st_mode))
    out->push_back({false, where + "virtual_mailbox_base " + base + " is not a directory"});
}

// What virtual(8) needs to deliver at all (Postfix's start-up checks, and
// the tables without which every delivery is deferred).
void CheckVirtual(const config::Config& cfg, const config::MasterService& s, const std::string& where,
                  std::vector<Problem>* out) {
  if (s.IsUnprivileged())
    out->push_back({false, where + "virtual(8) writes each mailbox with its owner's ids: set the unpriv column to n"});
  CheckMailboxBase(cfg, where, out);
  for (const char* maps : {"virtual_mailbox_maps", "virtual_uid_maps", "virtual_gid_maps"}) {
    auto refs = cfg.GetTables(maps);
    if (refs && refs->empty())
      out->push_back({false, where + maps + " is empty: virtual(8) would defer every delivery"});
  }
  auto min = cfg.GetInt("virtual_minimum_uid");
  if (min && *min < 1) out->push_back({false, where + "virtual_minimum_uid must be at least 1"});
  auto limit = cfg.GetSize("virtual_mailbox_limit");
  auto message = cfg.GetSize("message_size_limit");
  if (limit && message && *limit && (*limit < *message || *message == 0))
    out->push_back({false, where + "virtual_mailbox_limit is smaller than message_size_limit"});
  if (auto locks = cfg.GetList("virtual_mailbox_lock")) {
    auto parsed = mda::ParseMboxLocks(*locks, "virtual_mailbox_lock");
    if (!parsed) out->push_back({false, where + parsed.error()});
  }
}

}  // namespace

void CheckDeliveryAgents(const config::Config& cfg, const std::string& master_cf,
                         const std::vector<config::MasterService>& defs, std::vector<Problem>* out) {
  for (const auto& d : defs) {
    config::ServicePlan plan = config::PlanService(d);
    if (plan.run && plan.def.command == "error" && d.service != "error" && d.service != "retry")
      out->push_back({false, master_cf + ", line " + std::to_string(d.line) + ": service " + d.Key() +
                                 ": error(8) serves only the services error (bounce) and retry (defer)"});
  }
  if (cfg.List("virtual_mailbox_domains").empty()) return;
  std::string transport = route::ParseSpec(cfg.Str("virtual_transport")).transport;
  const config::MasterService* s = FindUnixService(defs, transport);
  if (!s) {
    out->push_back({false, "virtual_transport = " + cfg.Str("virtual_transport") + ": " + master_cf + " has no " +
                               transport + " unix service; mail for virtual_mailbox_domains would wait in the queue" +
                               (transport == "virtual" ? " (add: virtual unix - n n - - virtual)" : "")});
    return;
  }
  config::ServicePlan plan = config::PlanService(*s);
  if (!plan.run || plan.def.command != "virtual") return;
  config::Config with_overrides = cfg;
  for (const auto& [name, value] : s->overrides) with_overrides.Override(name, value);
  CheckVirtual(with_overrides, *s, master_cf + ", line " + std::to_string(s->line) + ": service " + s->Key() + ": ",
               out);
}

}  // namespace postern::ctl
