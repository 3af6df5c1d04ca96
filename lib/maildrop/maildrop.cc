// maildrop/maildrop.cc — maildrop files (see maildrop.h): temp + fsync +
// rename + directory fsync, so pickup never sees half a file; all file
// operations go through a directory descriptor opened without following
// symlinks, since root may be writing into another user's directory.
#include "postern/maildrop/maildrop.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <random>

#include "postern/util/strings.h"

namespace postern::maildrop {
namespace {

constexpr size_t kWriteSize = 256 * 1024;

std::string Errno(std::string_view what, std::string_view path) {
  return std::string(what) + " " + std::string(path) + ": " + std::strerror(errno);
}

// A value that fits on one envelope line.
bool Clean(std::string_view v, size_t limit) {
  if (v.size() > limit) return false;
  for (char c : v)
    if (static_cast<unsigned char>(c) < 32 || c == 127) return false;
  return true;
}

Result<void> WriteAll(int fd, std::string_view b, std::string_view path) {
  while (!b.empty()) {
    ssize_t n = write(fd, b.data(), b.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Err(Errno("write", path));
    b.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

template <class T>
bool Number(std::string_view s, T* out) {
  unsigned long long v = 0;
  if (!ParseUnsigned(s, &v) || v > static_cast<unsigned long long>(std::numeric_limits<T>::max())) return false;
  *out = static_cast<T>(v);
  return true;
}

}  // namespace

Result<std::string> FormatEnvelope(const Envelope& env) {
  if (!Clean(env.sender, queue::kMaxAddress)) return Err("bad sender address");
  if (env.recipients.empty()) return Err("no recipients");
  if (env.recipients.size() > kMaxRecipients) return Err("too many recipients");
  if (!Clean(env.envid, queue::kMaxAttr)) return Err("bad ENVID");
  std::string s(kMagic);
  s += "\nuid " + std::to_string(env.uid) + "\ntime " + std::to_string(env.time) + "\nsender " + env.sender + "\n";
  for (const std::string& r : env.recipients) {
    if (r.empty() || !Clean(r, queue::kMaxAddress)) return Err("bad recipient address");
    s += "rcpt " + r + "\n";
  }
  if (env.notify) s += "notify " + std::to_string(env.notify) + "\n";
  if (env.ret != queue::DsnRet::kUnset) s += "ret " + std::to_string(static_cast<int>(env.ret)) + "\n";
  if (!env.envid.empty()) s += "envid " + env.envid + "\n";
  if (env.flags) s += "flags " + std::to_string(env.flags) + "\n";
  if (s.size() > kMaxEnvelopeBytes) return Err("envelope too large");
  return s + "\n";
}

Result<Envelope> ParseEnvelope(std::string_view text) {
  Envelope env;
  bool magic = false, uid = false, time = false, sender = false;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (!magic) {
      if (line != kMagic) return Err("not a maildrop file");
      magic = true;
      continue;
    }
    size_t sp = line.find(' ');
    std::string_view key = line.substr(0, sp);
    std::string_view val = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
    bool ok = true;
    if (key == "uid") {
      ok = uid = Number(val, &env.uid);
    } else if (key == "time") {
      ok = time = Number(val, &env.time);
    } else if (key == "sender" && !sender) {
      ok = sender = Clean(val, queue::kMaxAddress);
      env.sender = val;
    } else if (key == "rcpt") {
      ok = !val.empty() && Clean(val, queue::kMaxAddress) && env.recipients.size() < kMaxRecipients;
      env.recipients.emplace_back(val);
    } else if (key == "notify") {
      ok = Number(val, &env.notify) && env.notify < 16;
    } else if (key == "ret") {
      uint8_t r = 0;
      ok = Number(val, &r) && r <= static_cast<uint8_t>(queue::DsnRet::kHdrs);
      env.ret = static_cast<queue::DsnRet>(r);
    } else if (key == "envid") {
      ok = Clean(val, queue::kMaxAttr);
      env.envid = val;
    } else if (key == "flags") {
      ok = Number(val, &env.flags);
    } else {
      ok = false;
    }
    if (!ok) return Err("bad envelope line \"" + std::string(line.substr(0, 64)) + "\"");
  }
  if (!magic || !uid || !time || !sender || env.recipients.empty()) return Err("incomplete envelope");
  return env;
}

Result<void> EnsureDir(const std::string& dir, std::optional<Owner> owner) {
  if (mkdir(dir.c_str(), 0700) != 0) {
    if (errno != EEXIST) return Err(Errno("create directory", dir));
    struct stat st;
    if (lstat(dir.c_str(), &st) != 0) return Err(Errno("stat", dir));
    if (!S_ISDIR(st.st_mode)) return Err(dir + " is not a directory");
    return {};
  }
  // mkdir's mode passed through the umask; 0700 is the access control.
  if (chmod(dir.c_str(), 0700) != 0) return Err(Errno("chmod", dir));
  if (owner && geteuid() == 0 && chown(dir.c_str(), owner->uid, owner->gid) != 0) return Err(Errno("chown", dir));
  return {};
}

Result<Writer> Writer::Create(const std::string& dir, const Envelope& env, std::optional<Owner> owner) {
  auto head = FormatEnvelope(env);
  if (!head) return Err(head.error());
  Writer w;
  w.dir_ = dir;
  w.dir_fd_ = Fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!w.dir_fd_.valid()) return Err(Errno("open directory", dir));
  std::random_device rd;
  w.name_ = std::to_string(env.time) + "." + std::to_string(getpid()) + "." + std::to_string(rd());
  std::string tmp = std::string(kTempPrefix) + w.name_;
  w.fd_ = Fd(openat(w.dir_fd_.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!w.fd_.valid()) return Err(Errno("create", dir + "/" + tmp));
  if (owner && geteuid() == 0 && fchown(w.fd_.get(), owner->uid, owner->gid) != 0) {
    std::string e = Errno("chown", dir + "/" + tmp);
    unlinkat(w.dir_fd_.get(), tmp.c_str(), 0);
    return Err(e);
  }
  w.buf_ = std::move(*head);
  return w;
}

Writer::~Writer() {
  if (!committed_ && fd_.valid()) unlinkat(dir_fd_.get(), (std::string(kTempPrefix) + name_).c_str(), 0);
}

Result<void> Writer::Flush() {
  auto r = WriteAll(fd_.get(), buf_, dir_ + "/" + std::string(kTempPrefix) + name_);
  buf_.clear();
  return r;
}

Result<void> Writer::Append(std::string_view data) {
  content_size_ += data.size();
  buf_.append(data);
  if (buf_.size() >= kWriteSize) return Flush();
  return {};
}

Result<std::string> Writer::Commit() {
  std::string tmp = std::string(kTempPrefix) + name_;
  if (auto r = Flush(); !r) return Err(r.error());
  if (fsync(fd_.get()) != 0) return Err(Errno("fsync", dir_ + "/" + tmp));
  if (renameat(dir_fd_.get(), tmp.c_str(), dir_fd_.get(), name_.c_str()) != 0)
    return Err(Errno("rename", dir_ + "/" + tmp));
  committed_ = true;
  // Only now is the file's name durable.
  if (fsync(dir_fd_.get()) != 0) return Err(Errno("fsync", dir_));
  return dir_ + "/" + name_;
}

Result<Reader> Reader::Open(const std::string& path) {
  Reader r;
  r.fd_ = Fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!r.fd_.valid()) return Err(Errno("open", path));
  struct stat st;
  if (fstat(r.fd_.get(), &st) != 0) return Err(Errno("stat", path));
  if (!S_ISREG(st.st_mode)) return Err(path + ": not a regular file");
  // Read until the empty line that ends the envelope; keep what follows.
  std::string buf;
  size_t end = std::string::npos;
  while (end == std::string::npos) {
    size_t have = buf.size();
    if (have > kMaxEnvelopeBytes) return Err(path + ": envelope too large");
    buf.resize(have + 64 * 1024);
    ssize_t n = read(r.fd_.get(), buf.data() + have, 64 * 1024);
    if (n < 0 && errno == EINTR) n = 0;
    if (n < 0) return Err(Errno("read", path));
    buf.resize(have + static_cast<size_t>(n));
    end = buf.find("\n\n");
    if (n == 0 && end == std::string::npos) return Err(path + ": truncated envelope");
  }
  auto env = ParseEnvelope(std::string_view(buf).substr(0, end + 1));
  if (!env) return Err(path + ": " + env.error());
  r.env_ = std::move(*env);
  r.pending_ = buf.substr(end + 2);
  return r;
}

Result<bool> Reader::Next(std::string* out) {
  if (!pending_.empty()) {
    out->swap(pending_);
    pending_.clear();
    return true;
  }
  out->resize(kWriteSize);
  for (;;) {
    ssize_t n = read(fd_.get(), out->data(), out->size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Err(std::string("read: ") + std::strerror(errno));
    out->resize(static_cast<size_t>(n));
    return n > 0;
  }
}

}  // namespace postern::maildrop
