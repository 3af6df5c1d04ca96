// queue/queue_recover.cc — start-up recovery: stale LMDB readers, orphaned
// body files (locked ones are still being written and stay), envelopes left
// active by a dead process, and — only after the system restarted — records
// whose body (inline or file) is missing or short (→ corrupt).
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
#include <vector>
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
    std::vector<MsgId> ids;
    while (struct dirent* ent = ::readdir(d)) {
      if (auto id = ParseMsgId(ent->d_name)) ids.push_back(*id);
    }
    ::closedir(d);
    // Most files belong to a message: one read transaction per directory
    // finds them, and only the rest is opened and locked.
    std::vector<MsgId> suspects;
    Read([&](MDB_txn* t) -> Status {
      for (MsgId id : ids) {
        std::string k = MsgKey(id);
        MDB_val key = mdb::Val(k), val;
        if (mdb_get(t, msg_db_, &key, &val) == MDB_NOTFOUND) suspects.push_back(id);
      }
      return Status::Ok();
    });
    for (MsgId id : suspects) {
      std::string path = BodyPath(data_dir_, id);
      Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      // A body whose writer holds the lock is being received right now.
      if (!fd.valid() || ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) continue;
      // Only now, under the lock, is the record's absence final.
      auto m = GetMessage(id);
      if (m.ok() || m.code() != Code::kNotFound) continue;
      if (::unlink(path.c_str()) == 0) {
        ++removed;
        log::Info("{}: removed orphaned queue file", FormatMsgId(id));
      }
    }
  }
  return removed;
}

std::string CurrentBootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

std::string Queue::CheckedBoot() {
  std::string boot;
  Read([&](MDB_txn* t) -> Status {
    MDB_val key = mdb::Val(kCheckedBootKey), val;
    if (mdb_get(t, count_db_, &key, &val) == 0) boot.assign(mdb::View(val));
    return Status::Ok();
  });
  return boot;
}

void Queue::MarkChecked(const std::string& boot) {
  Status s = Write([&](MDB_txn* t) -> Status {
    MDB_val key = mdb::Val(kCheckedBootKey), val = mdb::Val(boot);
    if (int rc = mdb_put(t, count_db_, &key, &val, 0)) return internal::MdbStatus(rc, "put check mark");
    return Status::Ok();
  });
  if (!s.ok()) log::Warning("queue recovery: cannot record the body check: {}", s.message);
}

// Why m's body is not whole, empty when it is. `t` reads the inline body.
std::string Queue::BodyProblem(MDB_txn* t, const MessageRecord& m) {
  std::string k = MsgKey(m.id);
  MDB_val key = mdb::Val(k), val;
  if (mdb_get(t, body_db_, &key, &val) == 0) {
    if (val.mv_size == m.size) return {};
    return "body is " + std::to_string(val.mv_size) + " bytes, record says " + std::to_string(m.size);
  }
  struct stat st;
  if (::stat(BodyPath(data_dir_, m.id).c_str(), &st) != 0) return std::string("body: ") + std::strerror(errno);
  if (static_cast<uint64_t>(st.st_size) == m.size) return {};
  return "body is " + std::to_string(st.st_size) + " bytes, record says " + std::to_string(m.size);
}

int Queue::CheckBodies(int* checked) {
  int corrupted = 0;
  MsgId after = 0;
  bool started = false;
  for (;;) {
    std::vector<std::pair<MsgId, std::string>> bad;
    size_t n = 0;
    Status s = Read([&](MDB_txn* t) -> Status {
      int rc;
      mdb::Cursor c(t, msg_db_, &rc);
      if (rc) return internal::MdbStatus(rc, "cursor");
      std::string start = MsgKey(after);
      MDB_val key = mdb::Val(start), val;
      for (rc = mdb_cursor_get(c.get(), &key, &val, MDB_SET_RANGE); rc == 0 && n < 1000;
           rc = mdb_cursor_get(c.get(), &key, &val, MDB_NEXT)) {
        MsgId id = static_cast<MsgId>(LoadBE(mdb::View(key)));
        if (started && id == after) continue;
        after = id;
        started = true;
        ++n;
        auto m = DecodeMessage(id, mdb::View(val));
        if (!m) continue;  // GetMessage reports it as corrupt to whoever reads it
        if (std::string why = BodyProblem(t, *m); !why.empty()) bad.emplace_back(id, std::move(why));
      }
      return rc == 0 || rc == MDB_NOTFOUND ? Status::Ok() : internal::MdbStatus(rc, "cursor");
    });
    if (!s.ok()) {
      log::Warning("queue recovery: {}", s.message);
      return corrupted;
    }
    *checked += static_cast<int>(n);
    for (auto& [id, why] : bad) {
      auto envs = Envelopes(id);
      if (!envs.ok()) continue;
      bool all_corrupt = true;
      for (const Envelope& e : *envs) all_corrupt &= e.state == State::kCorrupt;
      if (!all_corrupt && MarkCorrupt(id, why).ok()) ++corrupted;
    }
    if (n == 0) return corrupted;
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

RecoveryReport Queue::Recover(BodyCheck scope) {
  RecoveryReport r;
  r.stale_readers = CheckReaders();
  r.orphan_bodies = SweepOrphans();
  // A committed message's body was made durable before its record (fsync, or
  // the same transaction), and the page cache outlives any process: only an
  // OS crash or power loss, with storage that lost acknowledged writes, can
  // leave a record without its body. So the bodies are checked when the
  // system restarted since the last check (the boot id differs), and on demand.
  std::string boot = CurrentBootId();
  r.bodies_total = GetCounters().messages;
  if (scope == BodyCheck::kAll || boot.empty() || CheckedBoot() != boot) {
    r.full_check = true;
    r.corrupted = CheckBodies(&r.bodies_checked);
    if (!boot.empty()) MarkChecked(boot);
  }
  r.inflight_reset = ResetDeadInflight();
  // A start's line (qmgr); postsuper -s, which asks for all, reports as Postfix's does.
  if (scope == BodyCheck::kAfterSystemRestart) {
    log::Info("queue recovery: {} of {} message bodies checked ({})", r.bodies_checked, r.bodies_total,
              r.full_check ? "all: the first start since the system started"
                           : "none: no system restart since the last check");
  }
  if (r.orphan_bodies || r.corrupted || r.inflight_reset) {
    log::Info("queue recovery: {} orphaned bodies removed, {} messages corrupt, {} envelopes made due again",
              r.orphan_bodies, r.corrupted, r.inflight_reset);
  }
  return r;
}

}  // namespace postern::queue
