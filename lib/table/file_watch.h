// table/file_watch.h — a helper of the file-backed tables: a "has this file
// been replaced or changed?" check, rate-limited so that a busy smtpd does not
// stat a table on every lookup.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "postern/util/fd.h"

namespace postern::table {

// Identity and version of a file: rename() of a rebuilt file changes the
// inode; an edit in place changes mtime or size.
struct FileStamp {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  struct timespec mtime {};
  bool operator==(const FileStamp& o) const {
    return dev == o.dev && ino == o.ino && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
           mtime.tv_nsec == o.mtime.tv_nsec;
  }
};

inline std::optional<FileStamp> StampOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileStamp{st.st_dev, st.st_ino, st.st_size, st.st_mtim};
}

// `postern update table NAME`: files whose tables must be reread at their
// next lookup, whatever the recheck interval and even when unchanged. The
// generation moves on every request, so an idle watch checks one number.
struct ForcedReloads {
  uint64_t generation = 0;
  std::map<std::string, uint64_t> at;  // path → generation of its last request
  std::map<std::string, int> watched;  // paths of the tables open in this process
};
inline ForcedReloads& Reloads() {
  static ForcedReloads r;
  return r;
}
// False when no table of this process reads that file.
inline bool ForceReload(const std::string& path) {
  auto& r = Reloads();
  if (!r.watched.count(path)) return false;
  r.at[path] = ++r.generation;
  return true;
}
// `update table NAME` as an operator writes it (type:path as in main.cf, or
// the bare path): every table of this process reading that file (for lmdb:,
// its .lmdb) rereads it at its next lookup. False when none reads it.
inline bool ForceReloadNamed(std::string path) {
  if (auto colon = path.find(':'); colon != std::string::npos && path[0] != '/') path.erase(0, colon + 1);
  bool any = ForceReload(path);
  return ForceReload(path + ".lmdb") || any;
}

// Remembers the stamp of the file a table was loaded from and tells, at most
// once per interval (or at once after ForceReload), whether it has changed since.
class FileWatch {
 public:
  FileWatch(std::string path, std::chrono::milliseconds interval)
      : path_(std::move(path)), interval_(interval), seen_(Reloads().generation) {
    ++Reloads().watched[path_];
  }
  FileWatch(const FileWatch& o) : path_(o.path_), interval_(o.interval_), seen_(o.seen_) {
    ++Reloads().watched[path_];
  }
  FileWatch& operator=(const FileWatch&) = delete;
  ~FileWatch() {
    auto& w = Reloads().watched;
    if (auto it = w.find(path_); it != w.end() && --it->second <= 0) w.erase(it);
  }
  const std::string& path() const { return path_; }
  void Loaded(const FileStamp& s) {
    stamp_ = s;
    last_check_ = std::chrono::steady_clock::now();
  }
  // True when the file now differs from what was loaded (and exists).
  bool Changed() {
    auto now = std::chrono::steady_clock::now();
    if (seen_ != Reloads().generation) {
      auto it = Reloads().at.find(path_);
      bool forced = it != Reloads().at.end() && it->second > seen_;
      seen_ = Reloads().generation;
      if (forced) {
        last_check_ = now;
        return StampOf(path_).has_value();
      }
    }
    if (now - last_check_ < interval_) return false;
    last_check_ = now;
    auto s = StampOf(path_);
    return s && !(*s == stamp_);
  }

 private:
  std::string path_;
  std::chrono::milliseconds interval_;
  FileStamp stamp_;
  std::chrono::steady_clock::time_point last_check_{};
  uint64_t seen_;  // Reloads().generation when last looked at
};

}  // namespace postern::table
