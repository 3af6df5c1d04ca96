// queue/body.cc — body files: exclusive creation (the id is reserved by the
// file's existence), writes in large chunks, and disk-full mapped to its own code.
#include "queue/body.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace postern::queue {

namespace {
constexpr size_t kBufSize = 64 * 1024;
}

void UniqueFd::Reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status ErrnoStatus(int err, std::string_view what) {
  Code c = (err == ENOSPC || err == EDQUOT) ? Code::kInsufficientStorage : Code::kIo;
  return Fail(c, std::string(what) + ": " + std::strerror(err));
}

std::string BodyDir(const std::string& data_dir, MsgId id) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "/%02x", id & 0xffu);
  return data_dir + buf;
}

std::string BodyPath(const std::string& data_dir, MsgId id) {
  return BodyDir(data_dir, id) + "/" + FormatMsgId(id);
}

Outcome<BodyWriter> BodyWriter::Create(const std::string& data_dir, MsgId id,
                                       const std::optional<Owner>& owner) {
  BodyWriter w;
  w.path_ = BodyPath(data_dir, id);
  int fd = ::open(w.path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return Fail(Code::kNotFound, "id in use");
    return ErrnoStatus(errno, "create " + w.path_);
  }
  w.fd_ = UniqueFd(fd);
  // Recovery may have locked and unlinked the file between open and flock;
  // a file with no links is lost, so the caller picks another id.
  struct stat st;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0 || ::fstat(fd, &st) != 0 || st.st_nlink == 0) {
    return Fail(Code::kNotFound, "id raced with recovery");
  }
  if (owner && ::fchown(fd, owner->uid, owner->gid) != 0) {
    Status s = ErrnoStatus(errno, "chown " + w.path_);
    w.Remove();
    return s;
  }
  w.buf_.reserve(kBufSize);
  return w;
}

BodyWriter::~BodyWriter() {
  // Neither committed nor aborted: nothing may be left behind.
  if (fd_) Remove();
}

Status BodyWriter::Append(std::string_view data) {
  if (!error_.ok()) return error_;
  size_ += data.size();
  if (buf_.size() + data.size() < kBufSize) {
    buf_.append(data);
    return Status::Ok();
  }
  if (Status s = Flush(); !s.ok()) return s;
  if (data.size() >= kBufSize) {
    buf_.assign(data);
    return Flush();
  }
  buf_.append(data);
  return Status::Ok();
}

Status BodyWriter::Flush() {
  if (!error_.ok()) return error_;
  std::string_view rest = buf_;
  while (!rest.empty()) {
    ssize_t n = ::write(fd_.get(), rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_ = ErrnoStatus(n < 0 ? errno : ENOSPC, "write " + path_);
      return error_;
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
  buf_.clear();
  return Status::Ok();
}

Status BodyWriter::Sync() {
  if (Status s = Flush(); !s.ok()) return s;
  if (::fdatasync(fd_.get()) != 0) error_ = ErrnoStatus(errno, "fsync " + path_);
  return error_;
}

void BodyWriter::Remove() {
  if (!fd_) return;
  ::unlink(path_.c_str());
  fd_.Reset();
}

void BodyWriter::Close() { fd_.Reset(); }

Outcome<BodyReader> BodyReader::Open(const std::string& path) {
  BodyReader r;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Fail(errno == ENOENT ? Code::kCorrupt : Code::kIo,
                "open " + path + ": " + std::strerror(errno));
  }
  r.fd_ = UniqueFd(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return Fail(Code::kIo, "stat " + path + ": " + std::strerror(errno));
  r.size_ = static_cast<uint64_t>(st.st_size);
  return r;
}

Outcome<size_t> BodyReader::Read(char* buf, size_t n) {
  for (;;) {
    ssize_t got = ::read(fd_.get(), buf, n);
    if (got >= 0) return static_cast<size_t>(got);
    if (errno != EINTR) return Fail(Code::kCorrupt, std::string("read body: ") + std::strerror(errno));
  }
}

}  // namespace postern::queue
