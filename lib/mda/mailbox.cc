// mda/mailbox.cc — mbox entries, Maildir files and locked appends; see
// mailbox.h. Locks are retried for a few seconds, then the delivery defers.
#include "postern/mda/mailbox.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "postern/event/event.h"
#include "postern/log/log.h"

namespace postern::mda {

namespace {

constexpr int kLockAttempts = 20;  // Postfix's deliver_lock_attempts
constexpr auto kLockDelay = std::chrono::milliseconds(250);
constexpr time_t kStaleLock = 500;  // Postfix's stale_lock_time

std::string Errno(int err) { return std::strerror(err); }

Verdict WriteAll(int fd, std::string_view data, const char* fail_dsn) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Verdict::FromErrno(errno, "write: " + Errno(errno), fail_dsn);
    }
    data.remove_prefix(size_t(n));
  }
  if (fsync(fd) != 0 && errno != EINVAL) return Verdict::FromErrno(errno, "fsync: " + Errno(errno), fail_dsn);
  return Verdict::Sent("");
}

// path.lock, created exclusively; removed by the destructor.
class DotLock {
 public:
  // Empty text: locked (or the directory does not let us, which Postfix tolerates).
  std::string Take(const std::string& path) {
    std::string lock = path + ".lock";
    for (int i = 0; i < kLockAttempts; ++i) {
      int fd = open(lock.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (fd >= 0) {
        close(fd);
        path_ = lock;
        return "";
      }
      if (errno == EACCES || errno == EROFS || errno == EPERM) return "";
      if (errno != EEXIST) return "cannot create lock file " + lock + ": " + Errno(errno);
      struct stat st {};
      if (lstat(lock.c_str(), &st) == 0 && st.st_mtime + kStaleLock < time(nullptr)) {
        unlink(lock.c_str());
        continue;
      }
      std::this_thread::sleep_for(kLockDelay);
    }
    return "unable to lock " + path + ": lock file " + lock + " exists";
  }
  ~DotLock() {
    if (!path_.empty()) unlink(path_.c_str());
  }

 private:
  std::string path_;
};

std::string KernelLock(int fd, const MboxLocks& l, const std::string& path) {
  for (int i = 0; i < kLockAttempts; ++i) {
    bool ok = true;
    if (l.fcntl) {
      struct flock fl {};
      fl.l_type = F_WRLCK;
      fl.l_whence = SEEK_SET;
      ok = fcntl(fd, F_SETLK, &fl) == 0;
    }
    if (ok && l.flock) ok = flock(fd, LOCK_EX | LOCK_NB) == 0;
    if (ok) return "";
    if (errno != EAGAIN && errno != EACCES && errno != EWOULDBLOCK)
      return "cannot lock " + path + ": " + Errno(errno);
    std::this_thread::sleep_for(kLockDelay);
  }
  return "unable to lock " + path + ": it is locked by another process";
}

}  // namespace

Result<MboxLocks> ParseMboxLocks(const std::vector<std::string>& names, std::string_view param) {
  MboxLocks l{false, false, false};
  for (const std::string& n : names) {
    if (n == "fcntl") l.fcntl = true;
    else if (n == "flock") l.flock = true;
    else if (n == "dotlock") l.dotlock = true;
    else return Err(std::string(param) + ": unknown lock \"" + n + "\" (fcntl, flock or dotlock)");
  }
  return l;
}

namespace {

// Opens the mbox file for appending, or creates it (mode 0600) when it is
// missing; *created says which, so only a file made here changes owner.
Fd OpenOrCreate(const std::string& path, bool* created) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    Fd fd(open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW));
    if (fd.valid() || errno != ENOENT) return fd;
    Fd made(open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (made.valid()) {
      *created = true;
      return made;
    }
    if (errno != EEXIST) return made;  // else another delivery made it: open that one
  }
  return Fd(-1);
}

}  // namespace

Verdict AppendMbox(const std::string& path, std::string_view data, const MboxOptions& o) {
  const char* dsn = o.fail_dsn;
  DotLock dot;
  if (o.locks.dotlock) {
    if (std::string why = dot.Take(path); !why.empty()) return Verdict::Defer("4.2.0", why);
  }
  bool created = false;
  Fd fd = OpenOrCreate(path, &created);
  if (!fd.valid()) return Verdict::FromErrno(errno, "cannot open mailbox " + path + ": " + Errno(errno), dsn);
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return Verdict::FromErrno(errno, "cannot stat mailbox " + path + ": " + Errno(errno), dsn);
  if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))
    return Verdict::Bounce("5.2.0", "cannot deliver to " + path + ": not a regular file");
  if (S_ISREG(st.st_mode) && st.st_nlink > 1)
    return Verdict::Bounce("5.2.0", "cannot deliver to " + path + ": file has " + std::to_string(st.st_nlink) + " hard links");
  if (o.owner && created && fchown(fd.get(), o.owner->first, o.owner->second) != 0)
    return Verdict::FromErrno(errno, "cannot chown mailbox " + path + ": " + Errno(errno), dsn);
  if (o.owner && o.strict_owner && !created && S_ISREG(st.st_mode) && st.st_uid != o.owner->first) {
    log::Warning("specify \"strict_mailbox_ownership = no\" to ignore mailbox ownership mismatch");
    return Verdict::Defer("4.2.0", "destination " + path + " is not owned by recipient");
  }
  if (std::string why = KernelLock(fd.get(), o.locks, path); !why.empty()) return Verdict::Defer("4.2.0", why);
  if (S_ISCHR(st.st_mode)) return WriteAll(fd.get(), data, dsn);
  if (fstat(fd.get(), &st) != 0) return Verdict::FromErrno(errno, "cannot stat mailbox " + path + ": " + Errno(errno), dsn);
  if (o.size_limit && uint64_t(st.st_size) + data.size() > o.size_limit)
    return Verdict::Bounce("5.2.2", "cannot update mailbox " + path + ": mailbox full (" + std::string(o.limit_param) + ")");
  Verdict v = WriteAll(fd.get(), data, dsn);
  if (v.kind != Verdict::Kind::kSent) {
    // Leave the mailbox as it was: a half-written entry would corrupt the next one.
    if (ftruncate(fd.get(), st.st_size) != 0) v.text += "; truncating it back failed: " + Errno(errno);
    v.text = "cannot update mailbox " + path + ": " + v.text;
  }
  return v;
}

namespace {

Verdict MakeDir(const std::string& dir, const char* dsn) {
  if (mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) return Verdict::Sent("");
  return Verdict::FromErrno(errno, "create maildir directory " + dir + ": " + Errno(errno), dsn);
}

// Maildir names may not hold '/' or ':'.
std::string SafeHost(std::string_view host) {
  std::string out;
  for (char c : host) {
    if (c == '/') out += "\\057";
    else if (c == ':') out += "\\072";
    else out += c;
  }
  return out;
}

}  // namespace

Verdict WriteMaildir(const std::string& dir, std::string_view data, std::string_view hostname, const char* dsn) {
  std::string base = dir;
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  // Parents first: a Maildir may be new, and so may its parent (a demo user's).
  for (size_t p = base.find('/', 1); p != std::string::npos; p = base.find('/', p + 1)) {
    if (mkdir(base.substr(0, p).c_str(), 0700) != 0 && errno != EEXIST && errno != EACCES)
      return Verdict::FromErrno(errno, "create maildir directory " + base.substr(0, p) + ": " + Errno(errno), dsn);
  }
  for (const std::string& d : {base, base + "/tmp", base + "/new", base + "/cur"}) {
    if (Verdict v = MakeDir(d, dsn); v.kind != Verdict::Kind::kSent) return v;
  }
  static std::atomic<unsigned long> counter{0};
  auto now = std::chrono::system_clock::now().time_since_epoch();
  long sec = long(std::chrono::duration_cast<std::chrono::seconds>(now).count());
  long usec = long(std::chrono::duration_cast<std::chrono::microseconds>(now).count() % 1000000);
  std::string name = std::to_string(sec) + ".P" + std::to_string(getpid()) + "Q" + std::to_string(++counter) + "M" +
                     std::to_string(usec) + "." + SafeHost(hostname);
  std::string tmp = base + "/tmp/" + name, fresh = base + "/new/" + name;
  Fd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return Verdict::FromErrno(errno, "create maildir file " + tmp + ": " + Errno(errno), dsn);
  Verdict v = WriteAll(fd.get(), data, dsn);
  fd.Reset();
  if (v.kind != Verdict::Kind::kSent) {
    unlink(tmp.c_str());
    v.text = "create maildir file " + tmp + ": " + v.text;
    return v;
  }
  if (rename(tmp.c_str(), fresh.c_str()) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return Verdict::FromErrno(err, "rename maildir file " + tmp + " to " + fresh + ": " + Errno(err), dsn);
  }
  // The new name must survive a crash too.
  Fd d(open((base + "/new").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.valid()) fsync(d.get());
  return Verdict::Sent("");
}

}  // namespace postern::mda
