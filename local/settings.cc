// local/settings.cc — reads local(8)'s parameters; see settings.h.
#include "local/settings.h"

#include <algorithm>
#include <utility>

#include "postern/config/params.h"
#include "postern/mda/mailbox.h"

namespace postern::local {

namespace {

bool Has(const std::vector<std::string>& list, std::string_view word) {
  return std::find(list.begin(), list.end(), word) != list.end();
}

Result<Sources> ParseSources(const config::Config& cfg, const char* name) {
  auto v = cfg.GetList(name);
  if (!v) return Err(std::string(name) + ": " + v.error());
  Sources s;
  for (const std::string& w : *v) {
    if (w == "alias") {
      s.alias = true;
    } else if (w == "forward") {
      s.forward = true;
    } else if (w == "include") {
      s.include = true;
    } else {
      return Err(std::string(name) + ": unknown source \"" + w + "\" (alias, forward or include)");
    }
  }
  return s;
}

// forward_path names per-recipient attributes ($home, $user...) that main.cf
// cannot expand; keep the raw text and expand it at delivery time.
std::vector<std::string> RawList(const config::Config& cfg, const char* name) {
  std::string text;
  if (auto raw = cfg.Raw(name)) {
    text = *raw;
  } else if (const config::ParamDef* d = config::FindParam(name)) {
    text = std::string(d->default_value);
  }
  // Commas and white space separate elements, but not inside ${...}.
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  for (char c : text) {
    if (c == '{') ++depth;
    if (c == '}' && depth > 0) --depth;
    if (depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

}  // namespace

Result<Settings> Settings::Load(const config::Config& cfg) {
  Settings s;
  for (auto [name, out] : {std::pair{"myhostname", &s.myhostname}, std::pair{"myorigin", &s.myorigin},
                           std::pair{"queue_directory", &s.queue_directory},
                           std::pair{"recipient_delimiter", &s.recipient_delimiter},
                           std::pair{"home_mailbox", &s.home_mailbox},
                           std::pair{"mail_spool_directory", &s.mail_spool_directory},
                           std::pair{"mailbox_command", &s.mailbox_command},
                           std::pair{"mailbox_transport", &s.mailbox_transport},
                           std::pair{"default_privs", &s.default_privs}}) {
    auto v = cfg.Get(name);
    if (!v) return Err(v.error());
    *out = std::move(*v);
  }
  auto maps = cfg.GetTables("alias_maps");
  if (!maps) return Err("alias_maps: " + maps.error());
  s.alias_maps = std::move(*maps);
  s.forward_path = RawList(cfg, "forward_path");
  auto env = cfg.GetList("export_environment");
  if (!env) return Err("export_environment: " + env.error());
  s.export_environment = std::move(*env);
  auto cmds = ParseSources(cfg, "allow_mail_to_commands");
  if (!cmds) return Err(cmds.error());
  s.commands = *cmds;
  auto files = ParseSources(cfg, "allow_mail_to_files");
  if (!files) return Err(files.error());
  s.files = *files;
  auto pdh = cfg.GetList("prepend_delivered_header");
  if (!pdh) return Err("prepend_delivered_header: " + pdh.error());
  s.delivered_command = Has(*pdh, "command");
  s.delivered_file = Has(*pdh, "file");
  s.delivered_forward = Has(*pdh, "forward");
  auto prop = cfg.GetList("propagate_unmatched_extensions");
  if (!prop) return Err("propagate_unmatched_extensions: " + prop.error());
  s.propagate_alias = Has(*prop, "alias");
  s.propagate_forward = Has(*prop, "forward");
  s.propagate_include = Has(*prop, "include");
  auto locks = cfg.GetList("mailbox_delivery_lock");
  if (!locks) return Err("mailbox_delivery_lock: " + locks.error());
  auto parsed = mda::ParseMboxLocks(*locks, "mailbox_delivery_lock");
  if (!parsed) return Err(parsed.error());
  s.lock_fcntl = parsed->fcntl;
  s.lock_flock = parsed->flock;
  s.lock_dotlock = parsed->dotlock;
  for (auto [name, out] : {std::pair{"owner_request_special", &s.owner_request_special},
                           std::pair{"expand_owner_alias", &s.expand_owner_alias},
                           std::pair{"strict_mailbox_ownership", &s.strict_mailbox_ownership}}) {
    auto v = cfg.GetBool(name);
    if (!v) return Err(v.error());
    *out = *v;
  }
  auto size = cfg.GetSize("mailbox_size_limit");
  if (!size) return Err(size.error());
  s.mailbox_size_limit = *size;
  auto ctl = cfg.GetTime("command_time_limit");
  if (!ctl) return Err(ctl.error());
  s.command_time_limit = std::max<int64_t>(1, ctl->count());
  if (s.default_privs.empty()) return Err("default_privs: must name a user");
  return s;
}

}  // namespace postern::local
