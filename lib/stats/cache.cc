// stats/cache.cc — the policy cache in LMDB: one record per key in the
// "cache" database, encoded by EncodeRecord; see cache.h.
#include "postern/stats/cache.h"

namespace postern::stats {

namespace {

constexpr unsigned char kMarker = 0xff;  // never the first byte of an old-form expiry
constexpr size_t kHeader = 1 + 4 * 8;

void PutBe64(std::string* out, uint64_t v) {
  PutBe32(out, uint32_t(v >> 32));
  PutBe32(out, uint32_t(v));
}
uint64_t GetBe64(std::string_view s) { return uint64_t(GetBe32(s)) << 32 | GetBe32(s.substr(4)); }

bool Live(const CacheRecord& e, std::time_t now) { return e.expires == 0 || e.expires > now; }

Result<void> CheckKey(std::string_view key) {
  if (key.empty()) return Err("empty cache key");
  if (key.size() > PolicyCache::kMaxKey) return Err("cache key longer than 500 bytes");
  return {};
}

// A write transaction; Commit() or it aborts.
Result<mdb::Txn> BeginWrite(MDB_env* env) {
  MDB_txn* raw = nullptr;
  if (int rc = mdb_txn_begin(env, nullptr, 0, &raw)) return Err(MdbError("cache begin", rc));
  return mdb::Txn(raw);
}

// The live record under key in txn, if any.
Result<std::optional<CacheRecord>> Read(MDB_txn* txn, MDB_dbi dbi, std::string_view key, std::time_t now) {
  MDB_val k = mdb::Val(key), v;
  int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<CacheRecord>();
  if (rc) return Err(MdbError("cache read", rc));
  CacheRecord e;
  if (!DecodeRecord(mdb::View(v), &e) || !Live(e, now)) return std::optional<CacheRecord>();
  return std::optional<CacheRecord>(std::move(e));
}

Result<void> Write(mdb::Txn& txn, MDB_dbi dbi, std::string_view key, const CacheRecord& r) {
  std::string data = EncodeRecord(r);
  MDB_val k = mdb::Val(key), v = mdb::Val(data);
  if (int rc = mdb_put(txn.get(), dbi, &k, &v, 0)) return Err(MdbError("cache write", rc));
  if (int rc = txn.Commit()) return Err(MdbError("cache commit", rc));
  return {};
}

}  // namespace

std::string EncodeRecord(const CacheRecord& r) {
  std::string out(1, char(kMarker));
  PutBe64(&out, uint64_t(r.expires));
  PutBe64(&out, uint64_t(r.created));
  PutBe64(&out, uint64_t(r.touched));
  PutBe64(&out, r.hits);
  out.append(r.value);
  return out;
}

// Not a cache record (short): false, and Sweep clears it.
bool DecodeRecord(std::string_view raw, CacheRecord* r) {
  *r = CacheRecord{};
  if (!raw.empty() && static_cast<unsigned char>(raw[0]) == kMarker) {
    if (raw.size() < kHeader) return false;
    r->expires = std::time_t(GetBe64(raw.substr(1)));
    r->created = std::time_t(GetBe64(raw.substr(9)));
    r->touched = std::time_t(GetBe64(raw.substr(17)));
    r->hits = GetBe64(raw.substr(25));
    r->value.assign(raw.substr(kHeader));
    return true;
  }
  if (raw.size() < 8) return false;
  r->expires = std::time_t(GetBe64(raw));
  r->value.assign(raw.substr(8));
  return true;
}

Result<std::unique_ptr<PolicyCache>> PolicyCache::Open(const std::string& path) {
  if (path.rfind("redis:", 0) == 0) return Err("\"" + path + "\" is a Redis server, not an LMDB file");
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
  return Read(raw, dbi_, key, now);
}

Result<void> PolicyCache::Put(std::string_view key, std::string_view value, uint64_t ttl, std::time_t now) {
  if (auto k = CheckKey(key); !k) return k;
  if (value.size() > kMaxValue) return Err("cache value longer than 65536 bytes");
  auto txn = BeginWrite(env_.get());
  if (!txn) return Err(txn.error());
  auto old = Read(txn->get(), dbi_, key, now);
  if (!old) return Err(old.error());
  CacheRecord r = old->value_or(CacheRecord{"", 0, now, now, 0});
  r.value.assign(value);
  r.touched = now;
  r.expires = ttl ? std::time_t(uint64_t(now) + ttl) : 0;
  return Write(*txn, dbi_, key, r);
}

Result<PolicyCache::Entry> PolicyCache::Hit(std::string_view key, std::string_view value_if_new, uint64_t ttl,
                                            std::time_t now) {
  if (auto k = CheckKey(key); !k) return Err(k.error());
  if (value_if_new.size() > kMaxValue) return Err("cache value longer than 65536 bytes");
  auto txn = BeginWrite(env_.get());
  if (!txn) return Err(txn.error());
  auto old = Read(txn->get(), dbi_, key, now);
  if (!old) return Err(old.error());
  CacheRecord r = old->value_or(
      CacheRecord{std::string(value_if_new), 0, now, now, ttl ? std::time_t(uint64_t(now) + ttl) : 0});
  ++r.hits;
  r.touched = now;
  if (auto w = Write(*txn, dbi_, key, r); !w) return Err(w.error());
  return r;
}

Result<bool> PolicyCache::Delete(std::string_view key, std::time_t now) {
  if (auto k = CheckKey(key); !k) return Err(k.error());
  auto txn = BeginWrite(env_.get());
  if (!txn) return Err(txn.error());
  auto old = Read(txn->get(), dbi_, key, now);
  if (!old) return Err(old.error());
  MDB_val k = mdb::Val(key);
  int rc = mdb_del(txn->get(), dbi_, &k, nullptr);
  if (rc == MDB_NOTFOUND) return false;
  if (rc) return Err(MdbError("cache delete", rc));
  if (int crc = txn->Commit()) return Err(MdbError("cache commit", crc));
  return old->has_value();
}

Result<size_t> PolicyCache::Sweep(std::time_t now) {
  auto txn = BeginWrite(env_.get());
  if (!txn) return Err(txn.error());
  size_t removed = 0;
  {
    int rc = 0;
    mdb::Cursor c(txn->get(), dbi_, &rc);
    if (rc) return Err(MdbError("cache cursor", rc));
    MDB_val k, v;
    for (rc = mdb_cursor_get(c.get(), &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT)) {
      CacheRecord e;
      if (DecodeRecord(mdb::View(v), &e) && Live(e, now)) continue;
      if (int drc = mdb_cursor_del(c.get(), 0)) return Err(MdbError("cache sweep", drc));
      ++removed;
    }
  }
  if (removed == 0) return size_t{0};
  if (int rc = txn->Commit()) return Err(MdbError("cache commit", rc));
  return removed;
}

Result<std::vector<std::pair<std::string, PolicyCache::Entry>>> PolicyCache::List(std::string_view prefix,
                                                                                   std::time_t now) {
  MDB_txn* raw = nullptr;
  if (int rc = mdb_txn_begin(env_.get(), nullptr, MDB_RDONLY, &raw)) return Err(MdbError("cache begin", rc));
  mdb::Txn txn(raw);
  int rc = 0;
  mdb::Cursor c(raw, dbi_, &rc);
  if (rc) return Err(MdbError("cache cursor", rc));
  std::vector<std::pair<std::string, Entry>> out;
  MDB_val k = mdb::Val(prefix), v;
  MDB_cursor_op op = prefix.empty() ? MDB_FIRST : MDB_SET_RANGE;
  for (rc = mdb_cursor_get(c.get(), &k, &v, op); rc == 0; rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT)) {
    std::string_view key = mdb::View(k);
    if (key.substr(0, prefix.size()) != prefix) break;
    Entry e;
    if (DecodeRecord(mdb::View(v), &e) && Live(e, now)) out.emplace_back(std::string(key), std::move(e));
  }
  if (rc && rc != MDB_NOTFOUND) return Err(MdbError("cache list", rc));
  return out;
}

}  // namespace postern::stats
