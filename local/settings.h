// local/settings.h — the main.cf parameters the local delivery agent reads,
// checked once at start-up so that a delivery never parses configuration.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "postern/config/maincf.h"
#include "postern/util/result.h"

namespace postern::local {

// Where |command and /file/name destinations may come from
// (allow_mail_to_commands, allow_mail_to_files).
struct Sources {
  bool alias = false, forward = false, include = false;
};

struct Settings {
  std::string myhostname, myorigin, queue_directory, recipient_delimiter;
  std::string home_mailbox, mail_spool_directory, mailbox_command;
  std::string mailbox_transport;  // transport[:nexthop] for mailbox deliveries (Postfix's deliver_pass)
  std::vector<config::TableRef> alias_maps;
  std::vector<std::string> forward_path;  // unexpanded: $home etc. are per recipient
  std::vector<std::string> export_environment;
  std::string default_privs;
  Sources commands, files;
  bool delivered_command = true, delivered_file = true, delivered_forward = true;  // prepend_delivered_header
  bool propagate_alias = false, propagate_forward = false, propagate_include = false;
  bool owner_request_special = true, expand_owner_alias = false;
  bool strict_mailbox_ownership = true;  // a spool mailbox not owned by its recipient defers
  bool lock_fcntl = true, lock_flock = false, lock_dotlock = true;
  uint64_t mailbox_size_limit = 0;  // 0: no limit
  int64_t command_time_limit = 1000;  // seconds

  static Result<Settings> Load(const config::Config& cfg);
};

}  // namespace postern::local
