// master/setup.cc — mail_owner, queue tree, pid file; see setup.h.
#include "master/setup.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "postern/log/log.h"
#include "postern/queue/space.h"

namespace postern::master {

Result<Owner> ResolveOwner(const config::Config& cfg) {
  Owner o;
  o.root = geteuid() == 0;
  if (!o.root) {
    o.uid = geteuid();
    o.gid = getegid();
    passwd* pw = getpwuid(o.uid);
    o.name = pw ? pw->pw_name : std::to_string(o.uid);
    return o;
  }
  o.name = cfg.Str("mail_owner");
  passwd* pw = getpwnam(o.name.c_str());
  if (!pw)
    return Err("mail_owner " + o.name + ": no such user; create it (scripts/install-deps does) or set mail_owner");
  if (pw->pw_uid == 0) return Err("mail_owner " + o.name + " must not be root");
  o.uid = pw->pw_uid;
  o.gid = pw->pw_gid;
  return o;
}

namespace {

// mkdir -p for the path's missing ancestors (0755), then the leaf itself.
Result<void> EnsureDir(const std::string& path, mode_t mode, uid_t uid, gid_t gid, bool fix_owner) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    std::string part = path.substr(0, slash);
    if (mkdir(part.c_str(), 0755) != 0 && errno != EEXIST)
      return Err("create directory " + part + ": " + std::strerror(errno));
  }
  if (mkdir(path.c_str(), mode) != 0 && errno != EEXIST)
    return Err("create directory " + path + ": " + std::strerror(errno));
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return Err("stat " + path + ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) return Err(path + " is not a directory");
  if (fix_owner && (st.st_uid != uid || st.st_gid != gid) && chown(path.c_str(), uid, gid) != 0)
    return Err("chown " + path + ": " + std::strerror(errno));
  if ((st.st_mode & 07777) != mode && chmod(path.c_str(), mode) != 0)
    return Err("chmod " + path + ": " + std::strerror(errno));
  return {};
}

}  // namespace

Result<void> MakeQueueTree(const config::Config& cfg, const Owner& owner) {
  std::string q = cfg.Str("queue_directory");
  if (q.empty() || q[0] != '/') return Err("queue_directory must be an absolute path: \"" + q + "\"");
  // Workers create the queue's LMDB files in the queue root, so it belongs to
  // mail_owner; the pid directory stays master's (lstat refuses a symlink).
  if (auto r = EnsureDir(q, 0755, owner.uid, owner.gid, owner.root); !r) return r;
  std::string pid = PidFilePath(cfg);
  pid.erase(pid.rfind('/'));
  if (auto r = EnsureDir(pid, 0755, geteuid(), getegid(), owner.root); !r) return r;
  if (auto r = EnsureDir(q + "/private", 0700, owner.uid, owner.gid, owner.root); !r) return r;
  if (auto r = EnsureDir(q + "/public", 0755, owner.uid, owner.gid, owner.root); !r) return r;
  return {};
}

std::string PidFilePath(const config::Config& cfg) {
  std::string dir = cfg.Str("process_id_directory");
  if (dir.empty() || dir[0] != '/') dir = cfg.Str("queue_directory") + "/" + dir;
  return dir + "/master.pid";
}

Result<Fd> LockPidFile(const std::string& path) {
  Fd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd.valid()) return Err("open lock file " + path + ": " + std::strerror(errno));
  if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    if (err != EWOULDBLOCK) return Err("lock " + path + ": " + std::strerror(err));
    char buf[32] = {};
    ssize_t n = pread(fd.get(), buf, sizeof buf - 1, 0);
    std::string pid = n > 0 ? std::string(buf, size_t(n)) : "";
    pid.erase(0, pid.find_first_not_of(' '));
    pid.erase(pid.find_last_not_of(" \n") + 1);
    return Err("the postern mail system is already running" + (pid.empty() ? "" : " (master pid " + pid + ")") +
               "; lock file " + path);
  }
  // Postfix's format: the pid right-aligned in 10 columns.
  char line[32];
  int len = snprintf(line, sizeof line, "%10d\n", int(getpid()));
  if (ftruncate(fd.get(), 0) != 0 || pwrite(fd.get(), line, size_t(len), 0) != len)
    return Err("write " + path + ": " + std::strerror(errno));
  return fd;
}

void PrepareLogFile(const config::Config& cfg, const Owner& owner) {
  std::string file = cfg.Str("maillog_file");
  if (file.empty() || !owner.root) return;
  // 0640, as lib/log creates it: every address that passes through is in it.
  int fd = open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd < 0) return;  // log.cc reports it when it opens the file
  struct stat st;
  // Only a regular file: never take over /dev/stdout or a tty.
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid != owner.uid) {
    if (fchown(fd, owner.uid, owner.gid) != 0) { /* workers will warn and use syslog */ }
  }
  close(fd);
}

// Compaction copies the pages in use once: worth it from this much free space
// up (and when at least half of the file is free).
constexpr uint64_t kCompactMinGain = 4 << 20;

void CompactQueue(const config::Config& cfg, const Owner& owner) {
  std::optional<queue::Owner> qowner;
  if (owner.root) qowner = queue::Owner{owner.uid, owner.gid};
  std::string dir = cfg.Str("queue_directory");
  queue::CompactReport r = queue::CompactQueueFile(dir, qowner, kCompactMinGain);
  if (r.compacted) log::Info("queue file {}/queue.lmdb compacted: {} -> {} bytes", dir, r.before, r.after);
  else log::Verbose("queue file not compacted: {}", r.skipped);
}

}  // namespace postern::master
