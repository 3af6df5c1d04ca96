// queue/body.cc — body files: exclusive creation (the id is reserved by the
// file's existence), writes in large chunks, and disk-full mapped to its own code.
#include "postern/queue/body.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace postern::queue {

namespace {
constexpr size_t kBufSize = 64 * 1024;
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

BodyWriter BodyWriter::Create(const std::string& data_dir, MsgId id, const std::optional<Owner>& owner,
                              size_t inline_max) {
  BodyWriter w;
  w.path_ = BodyPath(data_dir, id);
  w.owner_ = owner;
  w.inline_max_ = std::min(inline_max, kBufSize);
  w.buf_.reserve(std::min<size_t>(kBufSize, 8192));
  return w;
}

// The id was checked free in LMDB at Begin; an existing file here is either an
// orphan recovery has yet to sweep or another process's body in progress with
// the same id (2^-32): refuse this message rather than touch that file.
Status BodyWriter::Spill() {
  int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return Fail(Code::kIo, "create " + path_ + ": queue id collision");
    return ErrnoStatus(errno, "create " + path_);
  }
  fd_ = Fd(fd);
  // Recovery may have locked and unlinked the file between open and flock.
  struct stat st;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0 || ::fstat(fd, &st) != 0 || st.st_nlink == 0) {
    Remove();
    return Fail(Code::kIo, "create " + path_ + ": raced with queue recovery");
  }
  if (owner_ && ::fchown(fd, owner_->uid, owner_->gid) != 0) {
    Status s = ErrnoStatus(errno, "chown " + path_);
    Remove();
    return s;
  }
  return Status::Ok();
}

BodyWriter::~BodyWriter() {
  // Neither committed nor aborted: nothing may be left behind.
  if (fd_.valid()) Remove();
}

Status BodyWriter::Append(std::string_view data) {
  if (!error_.ok()) return error_;
  size_ += data.size();
  const size_t room = fd_.valid() ? kBufSize : inline_max_ + 1;  // inline: up to inline_max_ bytes
  if (buf_.size() + data.size() < room) {
    buf_.append(data);
    return Status::Ok();
  }
  if (!fd_.valid()) {
    if (Status s = Spill(); !s.ok()) {
      error_ = s;
      return s;
    }
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
  if (!fd_.valid()) return Status::Ok();  // inline: the commit transaction carries it
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
  if (!fd_.valid()) return Status::Ok();
  if (::fdatasync(fd_.get()) != 0) error_ = ErrnoStatus(errno, "fsync " + path_);
  return error_;
}

void BodyWriter::Remove() {
  buf_.clear();
  if (!fd_.valid()) return;
  ::unlink(path_.c_str());
  fd_.Reset();
}

void BodyWriter::Close() {
  buf_.clear();
  fd_.Reset();
}

Outcome<BodyReader> BodyReader::Open(const std::string& path) {
  BodyReader r;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Fail(errno == ENOENT ? Code::kCorrupt : Code::kIo,
                "open " + path + ": " + std::strerror(errno));
  }
  r.fd_ = Fd(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return Fail(Code::kIo, "stat " + path + ": " + std::strerror(errno));
  r.size_ = static_cast<uint64_t>(st.st_size);
  return r;
}

BodyReader BodyReader::FromMemory(std::string text) {
  BodyReader r;
  r.size_ = text.size();
  r.mem_ = std::move(text);
  return r;
}

Outcome<size_t> BodyReader::Read(char* buf, size_t n) {
  if (mem_) {
    size_t k = std::min(n, mem_->size() - pos_);
    std::memcpy(buf, mem_->data() + pos_, k);
    pos_ += k;
    return k;
  }
  for (;;) {
    ssize_t got = ::read(fd_.get(), buf, n);
    if (got >= 0) return static_cast<size_t>(got);
    if (errno != EINTR) return Fail(Code::kCorrupt, std::string("read body: ") + std::strerror(errno));
  }
}

}  // namespace postern::queue
