// queue/queue_recover.cc — start-up recovery: stale LMDB readers, orphaned
// body files (locked ones are still being written and stay), records whose body
// (inline or file) is missing or short (→ corrupt), and envelopes left active
// by a dead process.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "postern/log/log.h"
#include "postern/queue/queue.h"
#include "postern/queue/queue_internal.h"

namespace postern::queue {

uint64_t ProcessStartTime(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return 0;
  // The command name may contain spaces and parentheses; fields restart after the last ')'.
  size_t close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 1));
  std::string field;
  for (int i = 3; i <= 22 && (rest >> field); ++i) {
    if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
  }
  return 0;
}

namespace {

bool OwnerAlive(uint32_t pid, uint64_t start) {
  if (pid == 0) return false;
  static const bool have_proc = ProcessStartTime(::getpid()) != 0;
  if (have_proc && start != 0) return ProcessStartTime(static_cast<pid_t>(pid)) == start;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

}  // namespace

int Queue::CheckReaders() {
  int dead = 0;
  std::shared_lock lk(map_mu_);
  mdb_reader_check(env_.get(), &dead);
  if (dead > 0) log::Info("queue: cleared {} stale reader slot(s)", dead);
  return dead;
}

int Queue::ReaderCount() {
  int lines = 0;
  std::shared_lock lk(map_mu_);
  mdb_reader_list(env_.get(), [](const char* msg, void* ctx) -> int {
    if (msg[0] != '(') ++*static_cast<int*>(ctx);  // "(no active readers)"
    return 0;
  }, &lines);
  return lines > 0 ? lines - 1 : 0;  // the first line is the column header
}

int Queue::SweepOrphans() {
  int removed = 0;
  for (unsigned b = 0; b < 256; ++b) {
    std::string dir = BodyDir(data_dir_, b);
    DIR* d = ::opendir(dir.c_str());
    if (!d) continue;
    while (struct dirent* ent = ::readdir(d)) {
      auto id = ParseMsgId(ent->d_name);
      if (!id) continue;
      std::string path = dir + "/" + ent->d_name;
      Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      // A body whose writer holds the lock is being received right now.
      if (!fd.valid() || ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) continue;
      // Only now, under the lock, is the record's absence final.
      auto m = GetMessage(*id);
      if (m.ok() || m.code() != Code::kNotFound) continue;
      if (::unlink(path.c_str()) == 0) {
        ++removed;
        log::Info("{}: removed orphaned queue file", FormatMsgId(*id));
      }
    }
    ::closedir(d);
  }
  return removed;
}

int Queue::CheckBodies() {
  int corrupted = 0;
  MsgId after = 0;
  for (;;) {
    auto page = ListMessages(after, 1000);
    if (!page.ok()) {
      log::Warning("queue recovery: {}", page.status().message);
      return corrupted;
    }
    if (page->empty()) return corrupted;
    for (const MessageRecord& m : *page) {
      after = m.id;
      struct stat st;
      std::string why;
      uint64_t inline_size = 0;
      Status in_db = Read([&](MDB_txn* t) -> Status {
        std::string k = MsgKey(m.id);
        MDB_val key = mdb::Val(k), val;
        int rc = mdb_get(t, body_db_, &key, &val);
        if (rc == 0) inline_size = val.mv_size;
        return rc == 0 ? Status::Ok() : internal::MdbStatus(rc, "body");
      });
      if (in_db.ok()) {
        if (inline_size == m.size) continue;
        why = "body is " + std::to_string(inline_size) + " bytes, record says " + std::to_string(m.size);
      } else if (::stat(BodyPath(data_dir_, m.id).c_str(), &st) != 0) {
        why = std::string("body: ") + std::strerror(errno);
      } else if (static_cast<uint64_t>(st.st_size) != m.size) {
        why = "body is " + std::to_string(st.st_size) + " bytes, record says " + std::to_string(m.size);
      } else {
        continue;
      }
      auto envs = Envelopes(m.id);
      if (!envs.ok()) continue;
      bool all_corrupt = true;
      for (const Envelope& e : *envs) all_corrupt &= e.state == State::kCorrupt;
      if (!all_corrupt && MarkCorrupt(m.id, why).ok()) ++corrupted;
    }
  }
}

int Queue::ResetDeadInflight() {
  // qmgr runs this every queue_run_delay over every active envelope, most of
  // them its own: those and each other owner are looked up in /proc once a pass.
  const uint32_t self = static_cast<uint32_t>(::getpid());
  const uint64_t self_start = ProcessStartTime(static_cast<pid_t>(self));
  std::map<std::pair<uint32_t, uint64_t>, bool> alive;
  int reset = 0;
  EnvId after = 0;
  for (;;) {
    auto page = ListByState(State::kActive, after, 1000);
    if (!page.ok() || page->empty()) return reset;
    for (const Envelope& e : *page) {
      after = e.id;
      if (e.owner_pid == self && (e.owner_start == self_start || e.owner_start == 0)) continue;
      auto key = std::make_pair(e.owner_pid, e.owner_start);
      auto it = alive.find(key);
      if (it == alive.end()) it = alive.emplace(key, OwnerAlive(e.owner_pid, e.owner_start)).first;
      if (it->second) continue;
      EnvelopeUpdate u;
      u.expect = Expected::Of(e);  // still the dead owner's: another qmgr may have reset it first
      u.state = State::kDeferred;
      u.next_attempt = internal::Now();
      if (Update(e.id, u).ok()) ++reset;
    }
  }
}

RecoveryReport Queue::Recover() {
  RecoveryReport r;
  r.stale_readers = CheckReaders();
  r.orphan_bodies = SweepOrphans();
  r.corrupted = CheckBodies();
  r.inflight_reset = ResetDeadInflight();
  if (r.orphan_bodies || r.corrupted || r.inflight_reset) {
    log::Info("queue recovery: {} orphaned bodies removed, {} messages corrupt, {} envelopes made due again",
              r.orphan_bodies, r.corrupted, r.inflight_reset);
  }
  return r;
}

}  // namespace postern::queue
