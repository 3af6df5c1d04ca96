// stats/anvil.h — Postfix's anvil(8) counters shared by every smtpd of the
// host: simultaneous connections and event rates per client address, in one
// LMDB file ($anvil_database). A connection is counted under the pid of the
// smtpd that holds it, so a killed smtpd leaks nothing: the next count skips
// (and removes) entries of processes that are gone.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>

#include "postern/stats/db.h"
#include "postern/util/result.h"

namespace postern::stats {

class Anvil {
 public:
  static constexpr size_t kMaxAddr = 100;

  // Counters never need to survive a crash of the machine: no fsync.
  static Result<std::unique_ptr<Anvil>> Open(const std::string& path);

  // One more connection from addr held by process pid; returns how many the
  // address now holds on the host (live processes only).
  Result<uint64_t> Connect(std::string_view addr, pid_t pid);
  // That connection ended.
  Result<void> Disconnect(std::string_view addr, pid_t pid);
  // A process starts afresh: removes what an earlier process with its pid left.
  Result<size_t> ForgetProcess(pid_t pid);
  // One more event of `kind` ("conn", "mail", "rcpt", "newtls", "auth") from
  // addr; returns the events in the current window of `unit` seconds, which
  // starts at the first event after the previous window ended (as anvil's).
  Result<uint64_t> Rate(std::string_view kind, std::string_view addr, uint64_t unit, std::time_t now);
  // Removes rate windows that ended before now (unit as given to Rate).
  Result<size_t> Sweep(uint64_t unit, std::time_t now);

 private:
  Anvil() = default;
  // Removes the records of kind ('c', 'r') for which doomed(key, value) holds.
  Result<size_t> DeleteWhere(char kind, const std::function<bool(std::string_view, std::string_view)>& doomed);
  mdb::Env env_;
  MDB_dbi dbi_ = 0;
};

}  // namespace postern::stats
