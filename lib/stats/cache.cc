// stats/cache.cc — the policy cache. A value is stored as 8 bytes of expiry
// time (big-endian seconds since the epoch, 0 = never) followed by the value.
#include "postern/stats/cache.h"

namespace postern::stats {

namespace {

std::string Encode(std::string_view value, uint64_t expires) {
  std::string out;
  PutBe32(&out, uint32_t(expires >> 32));
  PutBe32(&out, uint32_t(expires));
  out.append(value);
  return out;
}

// Not a cache record (short): treated as expired so Sweep clears it.
bool Decode(std::string_view raw, PolicyCache::Entry* e) {
  if (raw.size() < 8) return false;
  e->expires = std::time_t(uint64_t(GetBe32(raw)) << 32 | GetBe32(raw.substr(4)));
  e->value.assign(raw.substr(8));
  return true;
}

bool Live(const PolicyCache::Entry& e, std::time_t now) { return e.expires == 0 || e.expires > now; }

Result<void> CheckKey(std::string_view key) {
  if (key.empty()) return Err("empty cache key");
  if (key.size() > PolicyCache::kMaxKey) return Err("cache key longer than 500 bytes");
  return {};
}

}  // namespace

Result<std::unique_ptr<PolicyCache>> PolicyCache::Open(const std::string& path) {
  auto opened = OpenEnv(path, {"cache"}, size_t{1} << 30);
  if (!opened) return Err(opened.error());
  std::unique_ptr<PolicyCache> c(new PolicyCache);
  c->env_ = std::move(opened->env);
  c->dbi_ = opened->dbis[0];
  return c;
}

Result<std::optional<PolicyCache::Entry>> PolicyCache::Get(std::string_view key, std::time_t now) {
  if (auto k = CheckKey(key); !k) return Err(k.error());
  MDB_txn* raw = nullptr;
  if (int rc = mdb_txn_begin(env_.get(), nullptr, MDB_RDONLY, &raw)) return Err(MdbError("cache begin", rc));
  mdb::Txn txn(raw);
  MDB_val k = mdb::Val(key), v;
  int rc = mdb_get(raw, dbi_, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<Entry>();
  if (rc) return Err(MdbError("cache read", rc));
  Entry e;
  if (!Decode(mdb::View(v), &e) || !Live(e, now)) return std::optional<Entry>();
  return std::optional<Entry>(std::move(e));
}

Result<void> PolicyCache::Put(std::string_view key, std::string_view value, uint64_t ttl, std::time_t now) {
  if (auto k = CheckKey(key); !k) return k;
  if (value.size() > kMaxValue) return Err("cache value longer than 65536 bytes");
  std::string data = Encode(value, ttl ? uint64_t(now) + ttl : 0);
  MDB_txn* raw = nullptr;
  if (int rc = mdb_txn_begin(env_.get(), nullptr, 0, &raw)) return Err(MdbError("cache begin", rc));
  mdb::Txn txn(raw);
  MDB_val k = mdb::Val(key), v = mdb::Val(data);
  if (int rc = mdb_put(raw, dbi_, &k, &v, 0)) return Err(MdbError("cache write", rc));
  if (int rc = txn.Commit()) return Err(MdbError("cache commit", rc));
  return {};
}

Result<bool> PolicyCache::Delete(std::string_view key, std::time_t now) {
  if (auto k = CheckKey(key); !k) return Err(k.error());
  MDB_txn* raw = nullptr;
  if (int rc = mdb_txn_begin(env_.get(), nullptr, 0, &raw)) return Err(MdbError("cache begin", rc));
  mdb::Txn txn(raw);
  MDB_val k = mdb::Val(key), v;
  int rc = mdb_get(raw, dbi_, &k, &v);
  if (rc == MDB_NOTFOUND) return false;
  if (rc) return Err(MdbError("cache read", rc));
  Entry e;
  bool live = Decode(mdb::View(v), &e) && Live(e, now);
  if (int drc = mdb_del(raw, dbi_, &k, nullptr)) return Err(MdbError("cache delete", drc));
  if (int crc = txn.Commit()) return Err(MdbError("cache commit", crc));
  return live;
}

Result<size_t> PolicyCache::Sweep(std::time_t now) {
  MDB_txn* raw = nullptr;
  if (int rc = mdb_txn_begin(env_.get(), nullptr, 0, &raw)) return Err(MdbError("cache begin", rc));
  mdb::Txn txn(raw);
  size_t removed = 0;
  {
    int rc = 0;
    mdb::Cursor c(raw, dbi_, &rc);
    if (rc) return Err(MdbError("cache cursor", rc));
    MDB_val k, v;
    for (rc = mdb_cursor_get(c.get(), &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT)) {
      Entry e;
      if (Decode(mdb::View(v), &e) && Live(e, now)) continue;
      if (int drc = mdb_cursor_del(c.get(), 0)) return Err(MdbError("cache sweep", drc));
      ++removed;
    }
  }
  if (removed == 0) return size_t{0};
  if (int rc = txn.Commit()) return Err(MdbError("cache commit", rc));
  return removed;
}

}  // namespace postern::stats
