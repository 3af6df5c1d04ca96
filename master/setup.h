// master/setup.h — what master prepares before it starts anyone: the
// mail_owner account, the queue directory tree with its ownership, and the
// locked pid file that keeps a second master out.
#pragma once

#include <sys/types.h>

#include <string>

#include "postern/config/maincf.h"
#include "postern/event/event.h"
#include "postern/util/result.h"

namespace postern::master {

// Who workers run as: mail_owner when master is root, else master's own user.
struct Owner {
  bool root = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string name;
};
Result<Owner> ResolveOwner(const config::Config& cfg);

// $queue_directory (0755), private/ (0700) and public/ (0755) owned by
// mail_owner, the pid directory (0755) by master's user. Existing
// directories get their owner and mode fixed.
Result<void> MakeQueueTree(const config::Config& cfg, const Owner& owner);

// Rewrites the queue file without the free pages a drained backlog left in
// it, before any worker opens the queue (queue::CompactQueueFile); logs what
// it did. Run after the pid file is locked, before the first worker starts.
void CompactQueue(const config::Config& cfg, const Owner& owner);

// $queue_directory/$process_id_directory/master.pid
std::string PidFilePath(const config::Config& cfg);

// Opens, locks and fills the pid file; the lock lives as long as the Fd.
Result<Fd> LockPidFile(const std::string& path);

// A maillog_file that is a plain file must be writable by workers that run
// as mail_owner: create it and hand it to them.
void PrepareLogFile(const config::Config& cfg, const Owner& owner);

}  // namespace postern::master
