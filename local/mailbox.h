// local/mailbox.h — writing one message into a mailbox: a Maildir file
// (tmp/ → fsync → new/) and locked mbox appends (fcntl, flock, dotlock) that
// undo a partial write. The bytes of an entry come from mda/copy.h.
#pragma once

#include <sys/types.h>

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "postern/mda/copy.h"
#include "postern/mda/verdict.h"

namespace postern::local {

using mda::CopyOptions;
using mda::CrlfToLf;
using mda::FormatCopy;
using mda::FromLine;
using mda::Verdict;

struct MboxLocks {
  bool fcntl = true, flock = false, dotlock = true;
};

// Appends `data` to the mbox file `path`, creating it (mode 0600) when
// missing and giving it to `owner` when set (a spool file created with
// root's rights). Fails with 5.2.2 beyond `size_limit` (0: none) and
// truncates a partial write away.
Verdict AppendMbox(const std::string& path, std::string_view data, const MboxLocks& locks, uint64_t size_limit,
                   std::optional<std::pair<uid_t, gid_t>> owner);

// Delivers `data` into the Maildir `dir` (ending in '/'), creating dir,
// tmp/, new/ and cur/ (mode 0700) when missing.
Verdict WriteMaildir(const std::string& dir, std::string_view data, std::string_view hostname);

}  // namespace postern::local
