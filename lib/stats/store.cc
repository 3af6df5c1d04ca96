// stats/store.cc — the statistics database. Keys start with the hour in
// big-endian (byte order is time order), so pruning walks from the front.
//   hourly: hour(4) name          → uint64
//   routes: hour(4) route \0 name → uint64
//   totals: name                  → uint64
#include "postern/stats/store.h"

namespace postern::stats {

namespace {

Result<void> AddTo(MDB_txn* t, MDB_dbi dbi, const std::string& key, uint64_t delta) {
  MDB_val k = mdb::Val(key), v;
  uint64_t n = delta;
  int rc = mdb_get(t, dbi, &k, &v);
  if (rc == 0) n += GetU64(v);
  else if (rc != MDB_NOTFOUND) return Err(MdbError("stats read", rc));
  MDB_val nv{sizeof n, &n};
  if (int prc = mdb_put(t, dbi, &k, &nv, 0)) return Err(MdbError("stats write", prc));
  return {};
}

std::string HourKey(uint32_t hour) {
  std::string k;
  PutBe32(&k, hour);
  return k;
}

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const std::string& path) {
  auto opened = OpenEnv(path, {"hourly", "routes", "totals"}, size_t{256} << 20);
  if (!opened) return Err(opened.error());
  std::unique_ptr<Store> s(new Store);
  s->env_ = std::move(opened->env);
  s->hourly_ = opened->dbis[0];
  s->routes_ = opened->dbis[1];
  s->totals_ = opened->dbis[2];
  return s;
}

Result<void> Store::Add(const Batch& b, std::time_t now) {
  uint32_t hour = HourOf(now);
  if (hour != pruned_hour_) {
    if (auto p = Prune(now); !p) return Err(p.error());
    pruned_hour_ = hour;
  }
  if (b.empty()) return {};
  MDB_txn* raw = nullptr;
  if (int rc = mdb_txn_begin(env_.get(), nullptr, 0, &raw)) return Err(MdbError("stats begin", rc));
  mdb::Txn txn(raw);
  for (const auto& [name, n] : b.counters) {
    if (name.empty() || name.size() > kMaxKey) continue;
    if (auto r = AddTo(raw, hourly_, HourKey(hour) + name, n); !r) return r;
    if (auto r = AddTo(raw, totals_, name, n); !r) return r;
  }
  for (const auto& [key, n] : b.routes) {
    const auto& [route, name] = key;
    if (name.empty() || route.size() + name.size() > kMaxKey || route.find('\0') != std::string::npos) continue;
    if (auto r = AddTo(raw, routes_, HourKey(hour) + route + '\0' + name, n); !r) return r;
  }
  if (int rc = txn.Commit()) return Err(MdbError("stats commit", rc));
  return {};
}

Result<std::map<std::string, uint64_t>> Store::Totals() {
  MDB_txn* raw = nullptr;
  if (int rc = mdb_txn_begin(env_.get(), nullptr, MDB_RDONLY, &raw)) return Err(MdbError("stats begin", rc));
  mdb::Txn txn(raw);
  int rc = 0;
  mdb::Cursor c(raw, totals_, &rc);
  if (rc) return Err(MdbError("stats cursor", rc));
  std::map<std::string, uint64_t> out;
  MDB_val k, v;
  for (rc = mdb_cursor_get(c.get(), &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT))
    out[std::string(mdb::View(k))] = GetU64(v);
  return out;
}

Result<std::vector<Sample>> Store::Scan(MDB_dbi dbi, uint32_t since_hour, bool with_route) {
  MDB_txn* raw = nullptr;
  if (int rc = mdb_txn_begin(env_.get(), nullptr, MDB_RDONLY, &raw)) return Err(MdbError("stats begin", rc));
  mdb::Txn txn(raw);
  int rc = 0;
  mdb::Cursor c(raw, dbi, &rc);
  if (rc) return Err(MdbError("stats cursor", rc));
  std::string start = HourKey(since_hour);
  MDB_val k = mdb::Val(start), v;
  std::vector<Sample> out;
  for (rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT)) {
    std::string_view key = mdb::View(k);
    if (key.size() < 5) continue;
    Sample s{GetBe32(key), {}, std::string(key.substr(4)), GetU64(v)};
    if (with_route) {
      auto nul = s.name.find('\0');
      if (nul == std::string::npos) continue;
      s.route = s.name.substr(0, nul);
      s.name.erase(0, nul + 1);
    }
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::vector<Sample>> Store::Hourly(uint32_t since_hour) { return Scan(hourly_, since_hour, false); }
Result<std::vector<Sample>> Store::Routes(uint32_t since_hour) { return Scan(routes_, since_hour, true); }

Result<size_t> Store::Prune(std::time_t now) {
  uint32_t hour = HourOf(now);
  if (hour <= kRetentionHours) return size_t{0};
  std::string limit = HourKey(hour - kRetentionHours);
  MDB_txn* raw = nullptr;
  if (int rc = mdb_txn_begin(env_.get(), nullptr, 0, &raw)) return Err(MdbError("stats begin", rc));
  mdb::Txn txn(raw);
  size_t removed = 0;
  for (MDB_dbi dbi : {hourly_, routes_}) {
    int rc = 0;
    mdb::Cursor c(raw, dbi, &rc);
    if (rc) return Err(MdbError("stats cursor", rc));
    MDB_val k, v;
    for (rc = mdb_cursor_get(c.get(), &k, &v, MDB_FIRST); rc == 0 && mdb::View(k) < limit;
         rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT)) {
      if (int drc = mdb_cursor_del(c.get(), 0)) return Err(MdbError("stats prune", drc));
      ++removed;
    }
  }
  if (removed == 0) return size_t{0};  // the transaction aborts: nothing written
  if (int rc = txn.Commit()) return Err(MdbError("stats commit", rc));
  return removed;
}

}  // namespace postern::stats
