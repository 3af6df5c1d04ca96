// queue/lmdb.h — small owners for LMDB handles. A write transaction's cursors
// die with it, so a Cursor must go out of scope before its Txn commits or aborts.
#pragma once

#include <lmdb.h>

#include <string_view>
#include <utility>

namespace postern::queue::mdb {

class Env {
 public:
  Env() = default;
  explicit Env(MDB_env* e) : e_(e) {}
  ~Env() { if (e_) mdb_env_close(e_); }
  Env(Env&& o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
  Env& operator=(Env&& o) noexcept { std::swap(e_, o.e_); return *this; }
  Env(const Env&) = delete;
  MDB_env* get() const { return e_; }

 private:
  MDB_env* e_ = nullptr;
};

class Txn {
 public:
  Txn() = default;
  explicit Txn(MDB_txn* t) : t_(t) {}
  ~Txn() { Abort(); }
  Txn(Txn&& o) noexcept : t_(std::exchange(o.t_, nullptr)) {}
  Txn(const Txn&) = delete;
  MDB_txn* get() const { return t_; }
  int Commit() { return mdb_txn_commit(std::exchange(t_, nullptr)); }
  void Abort() { if (t_) mdb_txn_abort(std::exchange(t_, nullptr)); }

 private:
  MDB_txn* t_ = nullptr;
};

class Cursor {
 public:
  Cursor(MDB_txn* txn, MDB_dbi dbi, int* rc) { *rc = mdb_cursor_open(txn, dbi, &c_); }
  ~Cursor() { if (c_) mdb_cursor_close(c_); }
  Cursor(const Cursor&) = delete;
  MDB_cursor* get() const { return c_; }

 private:
  MDB_cursor* c_ = nullptr;
};

inline MDB_val Val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
inline std::string_view View(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

}  // namespace postern::queue::mdb
