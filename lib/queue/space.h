// queue/space.h — the queue's disk space: the reserve that lets qmgr activate
// and remove envelopes on a full file system, the queue file's usage for
// `postern show status`, and compaction of a queue file that a backlog left large.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "postern/queue/body.h"
#include "postern/queue/status.h"

namespace postern::queue {

inline constexpr const char* kReserveName = "queue.reserve";

// The queue file as it is now.
struct FileUsage {
  uint64_t file_bytes = 0;  // size of queue.lmdb on disk
  uint64_t used_bytes = 0;  // pages in use (the high-water mark less LMDB's free pages)
  uint64_t map_bytes = 0;   // the map it may fill before it grows
};

// Reads the usage of dir/queue.lmdb through a short read-only open, for a
// process that does not hold the queue open (master for `show status`):
// closing it would drop that process's LMDB locks (fcntl locks are per process).
// All zero while no process has created the queue yet.
Outcome<FileUsage> ReadFileUsage(const std::string& dir);

// smtpd's check before MAIL, as Postfix's: mail is refused while the queue
// file system has no more than queue_minfree free, less than 1.5 times
// message_size_limit (when set), or too little for the SIZE the client
// declared (0: none). Returns why (for the warning), empty when there is room.
std::string SpaceShortage(uint64_t avail, uint64_t minfree, uint64_t message_limit, uint64_t size);

// What CompactQueueFile did.
struct CompactReport {
  bool compacted = false;
  uint64_t before = 0, after = 0;  // file bytes
  std::string skipped;             // why not, when not
};

// Rewrites dir/queue.lmdb without its free pages (mdb_env_copyfd2 with
// MDB_CP_COMPACT, fsynced, renamed over the original) when at least half of
// the file and at least `min_gain` bytes are free pages. Safe only while no
// process has the environment open: it takes LMDB's own lock-file byte
// exclusively first (every open environment holds it shared) and skips when
// that fails; processes opening the queue meanwhile wait for it.
CompactReport CompactQueueFile(const std::string& dir, std::optional<Owner> owner, uint64_t min_gain);

}  // namespace postern::queue
