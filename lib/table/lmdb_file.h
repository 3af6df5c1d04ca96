// table/lmdb_file.h — the FILE.lmdb files behind lmdb: tables. One small LMDB
// environment per file (MDB_NOSUBDIR), never the queue's. Files are only ever
// replaced whole (temp file + rename), never written in place, so readers
// need no lock file (MDB_NOLOCK) and see a rebuild by reopening.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postern/table/file_watch.h"
#include "postern/util/result.h"

struct MDB_env;
struct MDB_txn;

namespace postern::table {

struct EnvCloser {
  void operator()(MDB_env* env) const;
};
using EnvPtr = std::unique_ptr<MDB_env, EnvCloser>;

// A read-only view of one database file.
class LmdbFile {
 public:
  static Result<LmdbFile> Open(const std::string& db_path);

  Result<std::optional<std::string>> Get(std::string_view key) const;
  // Visits every entry in key order; stops early when fn returns false.
  Result<void> ForEach(const std::function<bool(std::string_view, std::string_view)>& fn) const;
  // The identity of the file that was opened (not of whatever the path names now).
  const FileStamp& stamp() const { return stamp_; }

 private:
  EnvPtr env_;
  unsigned dbi_ = 0;
  FileStamp stamp_;
};

// Writes a new version of a database file beside it and renames it into
// place in Finish(); destroying an unfinished builder leaves the old file
// untouched and removes the temp file.
class LmdbBuilder {
 public:
  // copy_existing: start from the current content of db_path (postmap -i, -d);
  // a missing file then means an empty start.
  // initial_map: the LMDB map size to start with (it doubles when full).
  static Result<std::unique_ptr<LmdbBuilder>> Start(const std::string& db_path,
                                                    bool copy_existing,
                                                    size_t initial_map = size_t{64} << 20);
  ~LmdbBuilder();
  LmdbBuilder(const LmdbBuilder&) = delete;
  LmdbBuilder& operator=(const LmdbBuilder&) = delete;

  // False when the key was there already and `replace` was not set.
  Result<bool> Put(std::string_view key, std::string_view value, bool replace);
  // False when the key was not there.
  Result<bool> Remove(std::string_view key);

  struct Finish {
    mode_t mode = 0644;
    std::optional<uid_t> uid;  // chown the result (root building a user's table)
    std::optional<gid_t> gid;
  };
  Result<void> Commit(const Finish& finish);

 private:
  LmdbBuilder() = default;
  struct Op {
    bool remove = false;
    bool replace = false;
    std::string key;
    std::string value;
  };
  static constexpr size_t kJournalLimit = 20000;
  Result<void> BeginTxn();
  Result<void> Grow();
  Result<int> Apply(const Op& op);
  Result<int> Run(Op op);

  std::string db_path_;
  std::string tmp_path_;
  EnvPtr env_;
  MDB_txn* txn_ = nullptr;
  unsigned dbi_ = 0;
  size_t map_size_ = 0;
  std::vector<Op> journal_;  // this transaction's operations, replayed after growing
  bool done_ = false;
};

}  // namespace postern::table
