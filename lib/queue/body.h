// queue/body.h — message bodies: small ones travel inside the envelope's LMDB
// transaction (the "body" sub-database), larger ones are files,
// $queue_directory/data/xx/MSGID. A body file being written is flock()ed so
// that recovery never removes it. BodyReader is the one way to read either.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "postern/queue/ids.h"
#include "postern/queue/status.h"
#include "postern/util/fd.h"

namespace postern::queue {

struct Owner {
  uid_t uid;
  gid_t gid;
};

// The errno of a failed write/fsync as a queue status.
Status ErrnoStatus(int err, std::string_view what);

std::string BodyDir(const std::string& data_dir, MsgId id);   // data/xx
std::string BodyPath(const std::string& data_dir, MsgId id);  // data/xx/%08x

// Writes one body: buffered appends, then Sync() before the envelope commit.
// The file is created only when the body outgrows `inline_max` bytes; until
// then it stays in memory and the queue stores it in the commit transaction.
class BodyWriter {
 public:
  static BodyWriter Create(const std::string& data_dir, MsgId id, const std::optional<Owner>& owner,
                           size_t inline_max);
  BodyWriter(BodyWriter&&) = default;
  BodyWriter& operator=(BodyWriter&&) = default;
  ~BodyWriter();

  Status Append(std::string_view data);
  Status Flush();
  Status Sync();       // fdatasync: the caller may instead sync the whole file system
  void Remove();       // abort: unlink and close
  void Close();        // committed: close, which drops the lock
  // No file: the whole body is inline_data(), for the commit transaction.
  bool is_inline() const { return !fd_.valid() && error_.ok(); }
  std::string_view inline_data() const { return buf_; }
  bool has_file() const { return fd_.valid(); }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  const Status& error() const { return error_; }

 private:
  BodyWriter() = default;
  Status Spill();  // creates the file: the body no longer fits inline
  Fd fd_;
  std::string path_;
  std::string buf_;
  std::optional<Owner> owner_;
  size_t inline_max_ = 0;
  uint64_t size_ = 0;
  Status error_;
};

// Reads one body, sequentially, from its file or from a copy of its inline value
// (no LMDB transaction is held while the caller reads).
class BodyReader {
 public:
  static Outcome<BodyReader> Open(const std::string& path);
  static BodyReader FromMemory(std::string text);
  // 0 at the end of the body.
  Outcome<size_t> Read(char* buf, size_t n);
  uint64_t size() const { return size_; }

 private:
  Fd fd_;
  std::optional<std::string> mem_;
  size_t pos_ = 0;
  uint64_t size_ = 0;
};

}  // namespace postern::queue
