// stats/anvil.cc — the shared anvil counters. Keys: "c\0ADDR\0PID" → count
// (8 bytes, native), "r\0KIND\0ADDR" → window start and count (8 + 8 bytes).
// Every change is one short write transaction, which LMDB serialises across
// processes, so read-modify-write needs no other lock.
#include "postern/stats/anvil.h"

#include <signal.h>

#include <cerrno>
#include <cstring>

namespace postern::stats {

namespace {

bool Alive(pid_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

std::string ConnPrefix(std::string_view addr) {
  std::string k = "c";
  k.push_back('\0');
  k.append(addr);
  k.push_back('\0');
  return k;
}

std::string U64(uint64_t v) { return std::string(reinterpret_cast<const char*>(&v), sizeof v); }

uint64_t U64At(std::string_view s, size_t at) {
  uint64_t v = 0;
  if (s.size() >= at + sizeof v) std::memcpy(&v, s.data() + at, sizeof v);
  return v;
}

Result<void> CheckAddr(std::string_view addr) {
  if (addr.empty() || addr.size() > Anvil::kMaxAddr || addr.find('\0') != addr.npos)
    return Err("anvil: bad client address");
  return {};
}

// A write transaction that aborts unless committed.
Result<mdb::Txn> Begin(MDB_env* env) {
  MDB_txn* raw = nullptr;
  if (int rc = mdb_txn_begin(env, nullptr, 0, &raw)) return Err(MdbError("anvil begin", rc));
  return mdb::Txn(raw);
}

Result<void> Commit(mdb::Txn& txn) {
  if (int rc = txn.Commit()) return Err(MdbError("anvil commit", rc));
  return {};
}

}  // namespace

Result<std::unique_ptr<Anvil>> Anvil::Open(const std::string& path) {
  auto opened = OpenEnv(path, {"anvil"}, size_t{64} << 20);
  if (!opened) return Err(opened.error());
  mdb_env_set_flags(opened->env.get(), MDB_NOSYNC, 1);
  std::unique_ptr<Anvil> a(new Anvil);
  a->env_ = std::move(opened->env);
  a->dbi_ = opened->dbis[0];
  return a;
}

Result<uint64_t> Anvil::Connect(std::string_view addr, pid_t pid) {
  if (auto c = CheckAddr(addr); !c) return Err(c.error());
  auto txn = Begin(env_.get());
  if (!txn) return Err(txn.error());
  std::string prefix = ConnPrefix(addr);
  std::string own = prefix + std::to_string(pid);
  uint64_t total = 0;
  bool have_own = false;
  {
    int rc = 0;
    mdb::Cursor c(txn->get(), dbi_, &rc);
    if (rc) return Err(MdbError("anvil cursor", rc));
    MDB_val k = mdb::Val(prefix), v;
    for (rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT)) {
      std::string_view key = mdb::View(k);
      if (key.substr(0, prefix.size()) != prefix) break;
      if (key == own) {
        have_own = true;
        total += GetU64(v) + 1;
        continue;
      }
      long holder = std::strtol(std::string(key.substr(prefix.size())).c_str(), nullptr, 10);
      if (Alive(pid_t(holder))) {
        total += GetU64(v);
      } else if (int drc = mdb_cursor_del(c.get(), 0)) {
        return Err(MdbError("anvil delete", drc));
      }
    }
  }
  MDB_val k = mdb::Val(own), v;
  uint64_t mine = 1;
  if (have_own && mdb_get(txn->get(), dbi_, &k, &v) == 0) mine = GetU64(v) + 1;
  if (!have_own) total += 1;
  std::string val = U64(mine);
  MDB_val nv = mdb::Val(val);
  if (int rc = mdb_put(txn->get(), dbi_, &k, &nv, 0)) return Err(MdbError("anvil write", rc));
  if (auto r = Commit(*txn); !r) return Err(r.error());
  return total;
}

Result<void> Anvil::Disconnect(std::string_view addr, pid_t pid) {
  if (auto c = CheckAddr(addr); !c) return c;
  auto txn = Begin(env_.get());
  if (!txn) return Err(txn.error());
  std::string own = ConnPrefix(addr) + std::to_string(pid);
  MDB_val k = mdb::Val(own), v;
  int rc = mdb_get(txn->get(), dbi_, &k, &v);
  if (rc == MDB_NOTFOUND) return {};
  if (rc) return Err(MdbError("anvil read", rc));
  uint64_t n = GetU64(v);
  if (n <= 1) {
    if (int drc = mdb_del(txn->get(), dbi_, &k, nullptr)) return Err(MdbError("anvil delete", drc));
  } else {
    std::string val = U64(n - 1);
    MDB_val nv = mdb::Val(val);
    if (int wrc = mdb_put(txn->get(), dbi_, &k, &nv, 0)) return Err(MdbError("anvil write", wrc));
  }
  return Commit(*txn);
}

Result<size_t> Anvil::ForgetProcess(pid_t pid) {
  std::string tail = std::string(1, '\0') + std::to_string(pid);
  return DeleteWhere('c', [&](std::string_view key, std::string_view) {
    return key.size() > tail.size() && key.substr(key.size() - tail.size()) == tail;
  });
}

Result<uint64_t> Anvil::Rate(std::string_view kind, std::string_view addr, uint64_t unit, std::time_t now) {
  if (auto c = CheckAddr(addr); !c) return Err(c.error());
  auto txn = Begin(env_.get());
  if (!txn) return Err(txn.error());
  std::string key = "r";
  key.push_back('\0');
  key.append(kind);
  key.push_back('\0');
  key.append(addr);
  MDB_val k = mdb::Val(key), v;
  uint64_t start = uint64_t(now), count = 0;
  int rc = mdb_get(txn->get(), dbi_, &k, &v);
  if (rc && rc != MDB_NOTFOUND) return Err(MdbError("anvil read", rc));
  if (rc == 0) {
    uint64_t s = U64At(mdb::View(v), 0);
    if (uint64_t(now) < s + unit) start = s, count = U64At(mdb::View(v), 8);
  }
  ++count;
  std::string val = U64(start) + U64(count);
  MDB_val nv = mdb::Val(val);
  if (int wrc = mdb_put(txn->get(), dbi_, &k, &nv, 0)) return Err(MdbError("anvil write", wrc));
  if (auto r = Commit(*txn); !r) return Err(r.error());
  return count;
}

Result<size_t> Anvil::Sweep(uint64_t unit, std::time_t now) {
  return DeleteWhere('r', [&](std::string_view, std::string_view value) {
    return U64At(value, 0) + unit <= uint64_t(now);
  });
}

Result<size_t> Anvil::DeleteWhere(char kind, const std::function<bool(std::string_view, std::string_view)>& doomed) {
  auto txn = Begin(env_.get());
  if (!txn) return Err(txn.error());
  size_t removed = 0;
  {
    int rc = 0;
    mdb::Cursor c(txn->get(), dbi_, &rc);
    if (rc) return Err(MdbError("anvil cursor", rc));
    std::string first(1, kind);
    MDB_val k = mdb::Val(first), v;
    for (rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT)) {
      std::string_view key = mdb::View(k);
      if (key.empty() || key[0] != kind) break;
      if (!doomed(key, mdb::View(v))) continue;
      if (int drc = mdb_cursor_del(c.get(), 0)) return Err(MdbError("anvil delete", drc));
      ++removed;
    }
  }
  if (removed == 0) return size_t{0};
  if (auto r = Commit(*txn); !r) return Err(r.error());
  return removed;
}

}  // namespace postern::stats
