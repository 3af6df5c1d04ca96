// virtual/deliver.h — Postfix's virtual(8) delivery agent: a recipient's
// mailbox is $virtual_mailbox_base/ + its virtual_mailbox_maps entry (a
// trailing '/' means Maildir, else a locked mbox), written with the uid and
// gid that virtual_uid_maps and virtual_gid_maps give; no aliases, .forward
// or commands. Unknown recipients bounce (5.1.1), table trouble defers.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "postern/config/maincf.h"
#include "postern/ipc/delivery.h"
#include "postern/mda/mailbox.h"
#include "postern/mda/message.h"
#include "postern/queue/queue.h"
#include "postern/table/table.h"
#include "postern/util/result.h"

namespace postern::virt {

struct Settings {
  std::string service;  // master.cf name: relay= of the log line
  std::string queue_directory, myhostname, recipient_delimiter;
  std::string mailbox_base;  // absolute
  std::vector<config::TableRef> mailbox_maps, uid_maps, gid_maps;
  long long minimum_uid = 100;
  uint64_t mailbox_limit = 51200000;  // 0: none
  mda::MboxLocks locks;

  // Postfix's start-up checks too: an absolute base, a known lock, a
  // mailbox limit not below message_size_limit.
  static Result<Settings> Load(const config::Config& cfg, const std::string& service);
};

struct Agent {
  Settings settings;
  table::TableList mailboxes, uids, gids;
  std::unique_ptr<queue::Queue> queue;
};

// Opens the three tables (one that does not open defers what needs it).
void OpenTables(Agent* agent);

// Delivers one request; one result per recipient.
std::vector<ipc::DeliveryResult> Deliver(Agent& agent, const ipc::DeliveryRequest& req);

// Postfix's mail_addr_find for virtual(8), lower case: user+ext@domain,
// user@domain (without the extension), @domain. The first is the whole
// key; the others are partial (pattern tables see only the whole address).
struct Key {
  std::string text;
  bool partial;
};
std::vector<Key> LookupKeys(std::string_view address, std::string_view delimiters);

// A virtual_uid_maps / virtual_gid_maps value: decimal digits only.
std::optional<long long> ParseId(std::string_view text);

}  // namespace postern::virt
