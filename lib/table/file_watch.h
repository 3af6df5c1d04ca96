// table/file_watch.h — small helpers of the file-backed tables: an fd owner
// and a "has this file been replaced or changed?" check, rate-limited so that
// a busy smtpd does not stat a table on every lookup.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>

namespace postern::table {

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.release();
    }
    return *this;
  }
  int get() const { return fd_; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

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

// Remembers the stamp of the file a table was loaded from and tells, at most
// once per interval, whether it has changed since.
class FileWatch {
 public:
  FileWatch(std::string path, std::chrono::milliseconds interval)
      : path_(std::move(path)), interval_(interval) {}
  const std::string& path() const { return path_; }
  void Loaded(const FileStamp& s) {
    stamp_ = s;
    last_check_ = std::chrono::steady_clock::now();
  }
  // True when the file now differs from what was loaded (and exists).
  bool Changed() {
    auto now = std::chrono::steady_clock::now();
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
};

}  // namespace postern::table
