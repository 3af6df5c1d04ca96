// queue/queue_recover.cc — start-up recovery: stale LMDB readers, orphaned
// bodies (locked ones are still being written and stay), records whose body is
// missing or short (→ corrupt), and envelopes left active by a dead process.
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
#include <sstream>

#include "log/log.h"
#include "queue/queue.h"
#include "queue/queue_internal.h"

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
      UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      // A body whose writer holds the lock is being received right now.
      if (!fd || ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) continue;
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
      if (::stat(BodyPath(data_dir_, m.id).c_str(), &st) != 0) {
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
  int reset = 0;
  EnvId after = 0;
  for (;;) {
    auto page = ListByState(State::kActive, after, 1000);
    if (!page.ok() || page->empty()) return reset;
    for (const Envelope& e : *page) {
      after = e.id;
      if (OwnerAlive(e.owner_pid, e.owner_start)) continue;
      EnvelopeUpdate u;
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
