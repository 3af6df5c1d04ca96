// table/lmdb_file.cc — LMDB access for lmdb: tables and postmap. Readers use
// MDB_RDONLY|MDB_NOLOCK because files are replaced, never modified in place.
#include "postern/table/lmdb_file.h"

#include <fcntl.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>

namespace postern::table {

namespace {

constexpr unsigned kEnvFlags = MDB_NOSUBDIR | MDB_NOLOCK | MDB_NOTLS;

std::string LmdbError(std::string_view what, const std::string& path, int rc) {
  return std::string(what) + " " + path + ": " + mdb_strerror(rc);
}

MDB_val Val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
std::string_view View(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

// A transaction that aborts unless committed.
class Txn {
 public:
  explicit Txn(MDB_txn* t) : t_(t) {}
  ~Txn() {
    if (t_) mdb_txn_abort(t_);
  }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  MDB_txn* get() const { return t_; }

 private:
  MDB_txn* t_;
};

Result<EnvPtr> NewEnv(const std::string& path) {
  MDB_env* raw = nullptr;
  int rc = mdb_env_create(&raw);
  if (rc != 0) return Err(LmdbError("create environment for", path, rc));
  return EnvPtr(raw);
}

void SetCloexec(MDB_env* env) {
  mdb_filehandle_t fd;
  if (mdb_env_get_fd(env, &fd) == 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
}

}  // namespace

void EnvCloser::operator()(MDB_env* env) const { mdb_env_close(env); }

Result<LmdbFile> LmdbFile::Open(const std::string& db_path) {
  auto env = NewEnv(db_path);
  if (!env) return Err(env.error());
  int rc = mdb_env_open(env->get(), db_path.c_str(), kEnvFlags | MDB_RDONLY | MDB_NORDAHEAD, 0);
  if (rc != 0) return Err(LmdbError("open database", db_path, rc));
  SetCloexec(env->get());
  LmdbFile f;
  mdb_filehandle_t fd;
  struct stat st {};
  if (mdb_env_get_fd(env->get(), &fd) == 0 && fstat(fd, &st) == 0)
    f.stamp_ = FileStamp{st.st_dev, st.st_ino, st.st_size, st.st_mtim};
  MDB_txn* raw = nullptr;
  rc = mdb_txn_begin(env->get(), nullptr, MDB_RDONLY, &raw);
  if (rc != 0) return Err(LmdbError("read", db_path, rc));
  Txn txn(raw);
  MDB_dbi dbi;
  rc = mdb_dbi_open(txn.get(), nullptr, 0, &dbi);
  if (rc != 0) return Err(LmdbError("read", db_path, rc));
  f.dbi_ = dbi;
  f.env_ = std::move(*env);
  return f;
}

Result<std::optional<std::string>> LmdbFile::Get(std::string_view key) const {
  if (key.empty() || key.size() > 511) return std::optional<std::string>();
  MDB_txn* raw = nullptr;
  int rc = mdb_txn_begin(env_.get(), nullptr, MDB_RDONLY, &raw);
  if (rc != 0) return Err(std::string("lmdb read: ") + mdb_strerror(rc));
  Txn txn(raw);
  MDB_val k = Val(key), v;
  rc = mdb_get(txn.get(), dbi_, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string>();
  if (rc != 0) return Err(std::string("lmdb lookup: ") + mdb_strerror(rc));
  return std::optional<std::string>(std::string(View(v)));
}

Result<void> LmdbFile::ForEach(
    const std::function<bool(std::string_view, std::string_view)>& fn) const {
  MDB_txn* raw = nullptr;
  int rc = mdb_txn_begin(env_.get(), nullptr, MDB_RDONLY, &raw);
  if (rc != 0) return Err(std::string("lmdb read: ") + mdb_strerror(rc));
  Txn txn(raw);
  MDB_cursor* cur = nullptr;
  rc = mdb_cursor_open(txn.get(), dbi_, &cur);
  if (rc != 0) return Err(std::string("lmdb cursor: ") + mdb_strerror(rc));
  std::unique_ptr<MDB_cursor, void (*)(MDB_cursor*)> owner(cur, mdb_cursor_close);
  MDB_val k, v;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
    if (!fn(View(k), View(v))) return {};
  if (rc != MDB_NOTFOUND) return Err(std::string("lmdb read: ") + mdb_strerror(rc));
  return {};
}

// ---- builder ----

Result<std::unique_ptr<LmdbBuilder>> LmdbBuilder::Start(const std::string& db_path,
                                                        bool copy_existing,
                                                        size_t initial_map) {
  std::unique_ptr<LmdbBuilder> b(new LmdbBuilder());
  b->db_path_ = db_path;
  b->tmp_path_ = db_path + ".tmp." + std::to_string(getpid());
  ::unlink(b->tmp_path_.c_str());  // a leftover of a crashed run with our pid
  Fd fd(::open(b->tmp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0) return Err("create " + b->tmp_path_ + ": " + std::strerror(errno));
  size_t existing = 0;
  if (copy_existing) {
    struct stat st {};
    if (::stat(db_path.c_str(), &st) == 0) {
      existing = static_cast<size_t>(st.st_size);
      auto src = NewEnv(db_path);
      if (!src) return Err(src.error());
      int rc = mdb_env_open(src->get(), db_path.c_str(), kEnvFlags | MDB_RDONLY, 0);
      if (rc == 0) rc = mdb_env_copyfd2(src->get(), fd.get(), MDB_CP_COMPACT);
      if (rc != 0) return Err(LmdbError("copy", db_path, rc));
    } else if (errno != ENOENT) {
      return Err("stat " + db_path + ": " + std::strerror(errno));
    }
  }
  fd.Reset();
  auto env = NewEnv(b->tmp_path_);
  if (!env) return Err(env.error());
  b->env_ = std::move(*env);
  b->map_size_ = std::max(initial_map, existing * 2);
  mdb_env_set_mapsize(b->env_.get(), b->map_size_);
  // NOSYNC: nothing is visible before the rename, and Commit() syncs once.
  int rc = mdb_env_open(b->env_.get(), b->tmp_path_.c_str(), kEnvFlags | MDB_NOSYNC, 0600);
  if (rc != 0) return Err(LmdbError("open", b->tmp_path_, rc));
  SetCloexec(b->env_.get());
  auto begun = b->BeginTxn();
  if (!begun) return Err(begun.error());
  return b;
}

LmdbBuilder::~LmdbBuilder() {
  if (txn_) mdb_txn_abort(txn_);
  env_.reset();
  if (!done_ && !tmp_path_.empty()) ::unlink(tmp_path_.c_str());
}

Result<void> LmdbBuilder::BeginTxn() {
  int rc = mdb_txn_begin(env_.get(), nullptr, 0, &txn_);
  if (rc != 0) {
    txn_ = nullptr;
    return Err(LmdbError("write", tmp_path_, rc));
  }
  MDB_dbi dbi;
  rc = mdb_dbi_open(txn_, nullptr, 0, &dbi);
  if (rc != 0) return Err(LmdbError("write", tmp_path_, rc));
  dbi_ = dbi;
  return {};
}

// The map is full and the failed put has poisoned the transaction: abort,
// double the map, and replay what this transaction had done (the journal).
Result<void> LmdbBuilder::Grow() {
  mdb_txn_abort(txn_);
  txn_ = nullptr;
  map_size_ *= 2;
  int rc = mdb_env_set_mapsize(env_.get(), map_size_);
  if (rc != 0) return Err(LmdbError("grow", tmp_path_, rc));
  auto begun = BeginTxn();
  if (!begun) return begun;
  for (const Op& op : journal_) {
    auto r = Apply(op);
    if (!r) return Err(r.error());
  }
  return {};
}

// One put or delete in the current transaction; MDB_MAP_FULL comes back as
// an error code for the caller to grow on.
Result<int> LmdbBuilder::Apply(const Op& op) {
  MDB_val k = Val(op.key), v = Val(op.value);
  int rc = op.remove ? mdb_del(txn_, dbi_, &k, nullptr)
                     : mdb_put(txn_, dbi_, &k, &v, op.replace ? 0 : MDB_NOOVERWRITE);
  if (rc == 0 || rc == MDB_KEYEXIST || rc == MDB_NOTFOUND || rc == MDB_MAP_FULL) return rc;
  return Err(LmdbError("write", tmp_path_, rc));
}

// Runs one operation, growing the map as often as needed; commits every few
// thousand operations so that the replay journal stays small.
Result<int> LmdbBuilder::Run(Op op) {
  if (op.key.empty() || op.key.size() > 511) return Err("key must be 1 to 511 bytes long");
  if (!txn_) return Err("update of " + db_path_ + " failed earlier");
  for (;;) {
    auto rc = Apply(op);
    if (!rc) return rc;
    if (*rc == MDB_MAP_FULL) {
      auto grown = Grow();
      if (!grown) return Err(grown.error());
      continue;
    }
    journal_.push_back(std::move(op));
    if (journal_.size() >= kJournalLimit) {
      int c = mdb_txn_commit(txn_);
      txn_ = nullptr;
      if (c != 0) return Err(LmdbError("write", tmp_path_, c));
      journal_.clear();
      auto begun = BeginTxn();
      if (!begun) return Err(begun.error());
    }
    return rc;
  }
}

Result<bool> LmdbBuilder::Put(std::string_view key, std::string_view value, bool replace) {
  auto rc = Run(Op{false, replace, std::string(key), std::string(value)});
  if (!rc) return Err(rc.error());
  return *rc == 0;
}

Result<bool> LmdbBuilder::Remove(std::string_view key) {
  if (key.empty() || key.size() > 511) return false;
  auto rc = Run(Op{true, false, std::string(key), {}});
  if (!rc) return Err(rc.error());
  return *rc == 0;
}

Result<void> LmdbBuilder::Commit(const Finish& finish) {
  if (!txn_) return Err("update of " + db_path_ + " failed earlier");
  int rc = mdb_txn_commit(txn_);
  txn_ = nullptr;
  if (rc != 0) return Err(LmdbError("write", tmp_path_, rc));
  rc = mdb_env_sync(env_.get(), 1);
  if (rc != 0) return Err(LmdbError("sync", tmp_path_, rc));
  mdb_filehandle_t fd;
  mdb_env_get_fd(env_.get(), &fd);
  if (fchmod(fd, finish.mode) != 0) return Err("chmod " + tmp_path_ + ": " + std::strerror(errno));
  if ((finish.uid || finish.gid) &&
      fchown(fd, finish.uid.value_or(-1), finish.gid.value_or(-1)) != 0)
    return Err("chown " + tmp_path_ + ": " + std::strerror(errno));
  env_.reset();
  if (::rename(tmp_path_.c_str(), db_path_.c_str()) != 0)
    return Err("rename " + tmp_path_ + " to " + db_path_ + ": " + std::strerror(errno));
  done_ = true;
  // The rename itself must survive a crash too.
  size_t slash = db_path_.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : db_path_.substr(0, slash);
  Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() >= 0) fsync(dfd.get());
  return {};
}

}  // namespace postern::table
