// queue/space.cc — the reserve file (released when a queue update finds the
// file system full, restored by qmgr when space is back), free-space checks,
// the queue file's usage and its compaction at start; see space.h.
#include "postern/queue/space.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "postern/log/log.h"
#include "postern/queue/lmdb.h"
#include "postern/queue/queue.h"
#include "postern/queue/queue_internal.h"

namespace postern::queue {

using internal::MdbStatus;

namespace internal {

uint64_t FreePages(MDB_txn* t) {
  uint64_t free_pages = 0;
  int rc;
  mdb::Cursor c(t, 0, &rc);  // dbi 0 is the free list: each value starts with its page count
  if (rc) return 0;
  MDB_val key, val;
  while (mdb_cursor_get(c.get(), &key, &val, MDB_NEXT) == 0) {
    if (val.mv_size >= sizeof(size_t)) free_pages += *static_cast<const size_t*>(val.mv_data);
  }
  return free_pages;
}

uint64_t UsedBytesIn(MDB_env* env, MDB_txn* t) {
  MDB_envinfo info;
  MDB_stat st;
  mdb_env_info(env, &info);
  mdb_env_stat(env, &st);
  uint64_t pages = info.me_last_pgno + 1, free_pages = FreePages(t);
  return (pages > free_pages ? pages - free_pages : 0) * st.ms_psize;
}

}  // namespace internal

namespace {

uint64_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// A read-only environment without LMDB's lock file: only for a process that
// knows no other one writes (compaction under the exclusive lock) or that
// reads figures that may be a moment old (show status).
Outcome<mdb::Env> OpenPlain(const std::string& path, bool nolock) {
  MDB_env* raw = nullptr;
  if (int rc = mdb_env_create(&raw)) return MdbStatus(rc, "mdb_env_create");
  mdb::Env env(raw);
  mdb_env_set_maxdbs(raw, 8);
  unsigned flags = MDB_NOSUBDIR | MDB_NOTLS | MDB_RDONLY | (nolock ? unsigned(MDB_NOLOCK) : 0u);
  if (int rc = mdb_env_open(raw, path.c_str(), flags, 0600)) return MdbStatus(rc, "open " + path);
  int fd = -1;
  if (mdb_env_get_fd(raw, &fd) == 0) ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC);
  return env;
}

Outcome<FileUsage> UsageOf(MDB_env* env, const std::string& path) {
  FileUsage u;
  MDB_txn* t = nullptr;
  if (int rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &t)) return MdbStatus(rc, "begin read");
  mdb::Txn txn(t);
  MDB_envinfo info;
  mdb_env_info(env, &info);
  u.map_bytes = info.me_mapsize;
  u.used_bytes = internal::UsedBytesIn(env, t);
  u.file_bytes = FileSize(path);
  return u;
}

// An open file description lock on the byte every LMDB environment of the
// queue holds shared (mdb_env_excl_lock): held exclusively, nobody has the
// queue open, and whoever opens it now waits until it is released.
class ExclusiveQueueLock {
 public:
  explicit ExclusiveQueueLock(const std::string& lock_path)
      : fd_(::open(lock_path.c_str(), O_RDWR | O_CLOEXEC)) {
    if (!fd_.valid()) return;
    struct flock l {};
    l.l_type = F_WRLCK;
    l.l_whence = SEEK_SET;
    l.l_start = 0;
    l.l_len = 1;
    held_ = ::fcntl(fd_.get(), F_OFD_SETLK, &l) == 0;
  }
  bool held() const { return held_; }

 private:
  Fd fd_;  // closing it releases the lock
  bool held_ = false;
};

Status SyncDirOf(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid() || ::fsync(fd.get()) != 0) return ErrnoStatus(errno, "fsync " + dir);
  return Status::Ok();
}

// Writes the compact copy beside the original and renames it over it.
Status CopyCompact(MDB_env* env, const std::string& dir, const std::string& path, std::optional<Owner> owner) {
  std::string tmp = path + ".compact";
  ::unlink(tmp.c_str());
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoStatus(errno, "create " + tmp);
  Status s;
  if (int rc = mdb_env_copyfd2(env, fd.get(), MDB_CP_COMPACT)) s = MdbStatus(rc, "copy");
  else if (::fsync(fd.get()) != 0) s = ErrnoStatus(errno, "fsync " + tmp);
  else if (owner && ::fchown(fd.get(), owner->uid, owner->gid) != 0) s = ErrnoStatus(errno, "chown " + tmp);
  else if (::rename(tmp.c_str(), path.c_str()) != 0) s = ErrnoStatus(errno, "rename " + tmp);
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  return SyncDirOf(dir);
}

}  // namespace

Outcome<FileUsage> ReadFileUsage(const std::string& dir) {
  std::string path = dir + "/queue.lmdb";
  if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) return FileUsage{};  // not made yet: empty
  auto env = OpenPlain(path, false);
  if (!env.ok()) return env.status();
  return UsageOf(env->get(), path);
}

namespace {

// Compacts under the exclusive lock; returns why not, empty when it did.
std::string TryCompact(const std::string& dir, std::optional<Owner> owner, uint64_t min_gain, uint64_t* before) {
  std::string path = dir + "/queue.lmdb";
  if (::access(path.c_str(), F_OK) != 0) return "no queue file yet";
  ExclusiveQueueLock lock(path + "-lock");
  if (!lock.held()) return "the queue is open in another process";
  auto env = OpenPlain(path, true);
  if (!env.ok()) return env.status().message;
  auto u = UsageOf(env->get(), path);
  if (!u.ok()) return u.status().message;
  *before = u->file_bytes;
  uint64_t gain = u->file_bytes > u->used_bytes ? u->file_bytes - u->used_bytes : 0;
  if (gain < min_gain || gain < u->file_bytes / 2) return "little free space inside";
  if (Status s = CopyCompact(env->get(), dir, path, owner); !s.ok()) return s.message;
  return {};
}

}  // namespace

CompactReport CompactQueueFile(const std::string& dir, std::optional<Owner> owner, uint64_t min_gain) {
  CompactReport r;
  r.skipped = TryCompact(dir, owner, min_gain, &r.before);
  r.compacted = r.skipped.empty();
  if (r.compacted) r.after = FileSize(dir + "/queue.lmdb");
  return r;
}

std::string SpaceShortage(uint64_t avail, uint64_t minfree, uint64_t message_limit, uint64_t size) {
  std::string have = "not enough free space in mail queue: " + std::to_string(avail) + " bytes";
  if (avail <= minfree) return have + " <= queue_minfree " + std::to_string(minfree);
  // avail / 1.5 in integers: 2 * avail / 3.
  if (message_limit && message_limit >= avail / 3 * 2) return have + " < 1.5*message size limit";
  if (size && (size >= avail - minfree || size >= avail / 3 * 2))
    return have + " < 1.5*message size " + std::to_string(size);
  return {};
}

uint64_t Queue::AvailableBytes() {
  struct statvfs vfs;
  if (::fstatvfs(data_fd_.get(), &vfs) != 0) return UINT64_MAX;
  return static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
}

// LMDB reports a short write (the file system filled during the commit) as EIO.
Status Queue::CommitStatus(int rc) {
  if (rc == EIO && AvailableBytes() < (1u << 20))
    return Fail(Code::kInsufficientStorage, "commit: short write, file system full");
  return MdbStatus(rc, "commit");
}

bool Queue::ReleaseReserve() {
  std::string path = dir_ + "/" + kReserveName;
  Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  struct stat st;
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || st.st_size == 0) return false;
  if (::ftruncate(fd.get(), 0) != 0) return false;
  log::Warning("queue file system full: {} bytes of reserve ({}) released for queue updates", st.st_size, path);
  return true;
}

void Queue::KeepReserve() {
  if (opts_.reserve_size == 0) return;
  std::string path = dir_ + "/" + kReserveName;
  struct stat st;
  bool existed = ::stat(path.c_str(), &st) == 0;
  uint64_t have = existed ? static_cast<uint64_t>(st.st_size) : 0;
  if (have >= opts_.reserve_size) return;
  // Only with room to spare, so that a file system hovering at the edge does
  // not take and give back the reserve on every check.
  if (AvailableBytes() < 2 * opts_.reserve_size + opts_.min_free) return;
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) return log::Warning("create {}: {}", path, std::strerror(errno));
  off_t len = static_cast<off_t>(opts_.reserve_size);
  int rc = ::fallocate(fd.get(), 0, 0, len);
  if (rc != 0 && (errno == EOPNOTSUPP || errno == ENOSYS)) {
    std::vector<char> zeros(1 << 16, 0);
    rc = 0;
    for (off_t off = 0; off < len && rc == 0; off += static_cast<off_t>(zeros.size())) {
      size_t n = static_cast<size_t>(std::min<off_t>(len - off, static_cast<off_t>(zeros.size())));
      if (::pwrite(fd.get(), zeros.data(), n, off) != static_cast<ssize_t>(n)) rc = -1;
    }
    if (rc == 0) rc = ::fdatasync(fd.get());
  }
  if (rc != 0) {
    (void)!::ftruncate(fd.get(), 0);
    return;
  }
  if (!existed) Chown(path);
  else log::Info("queue space reserve restored: {} bytes in {}", opts_.reserve_size, path);
}

}  // namespace postern::queue
