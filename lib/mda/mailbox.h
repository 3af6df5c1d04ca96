// mda/mailbox.h — writing one message into a mailbox (local, virtual): a
// Maildir file (tmp/ → fsync → new/) and locked mbox appends (fcntl, flock,
// dotlock) that undo a partial write. The bytes of an entry come from copy.h.
#pragma once

#include <sys/types.h>

#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postern/mda/copy.h"
#include "postern/mda/verdict.h"
#include "postern/util/result.h"

namespace postern::mda {

struct MboxLocks {
  bool fcntl = true, flock = false, dotlock = true;
};

// A lock list as mailbox_delivery_lock and virtual_mailbox_lock write it
// (fcntl, flock, dotlock); an unknown name is an error naming `param`.
Result<MboxLocks> ParseMboxLocks(const std::vector<std::string>& names, std::string_view param);

// How an mbox append goes: its locks, its size limit (0: none; the 5.2.2 text
// names `limit_param`), the owner a new file is given (a spool file created
// with root's rights) and, with `strict_owner`, the owner an existing one
// must have (else deferred, Postfix's strict_mailbox_ownership), and the
// status of a failure that is neither a full mailbox nor a full disk
// (Postfix's mbox_dsn default: local bounces with 5.2.0, virtual defers
// with 4.2.0).
struct MboxOptions {
  MboxLocks locks;
  uint64_t size_limit = 0;
  std::string_view limit_param = "mailbox_size_limit";
  std::optional<std::pair<uid_t, gid_t>> owner;
  bool strict_owner = false;
  const char* fail_dsn = "5.2.0";
};

// Appends `data` to the mbox file `path`, creating it (mode 0600) when
// missing. Truncates a partial write away.
Verdict AppendMbox(const std::string& path, std::string_view data, const MboxOptions& o);

// Delivers `data` into the Maildir `dir` (ending in '/'), creating dir,
// tmp/, new/ and cur/ (mode 0700) when missing; a failure other than a full
// disk or mailbox has the status `fail_dsn`.
Verdict WriteMaildir(const std::string& dir, std::string_view data, std::string_view hostname,
                     const char* fail_dsn = "5.2.0");

}  // namespace postern::mda
