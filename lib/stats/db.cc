// stats/db.cc — environment opening shared by the stats store and the policy
// cache; see db.h.
#include "postern/stats/db.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace postern::stats {

namespace {

// root made the files: give them to the directory's owner (mail_owner's
// queue directory), who runs the workers that write them.
void HandToDirectoryOwner(const std::string& path) {
  if (geteuid() != 0) return;
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0 || st.st_uid == 0) return;
  for (const std::string& p : {path, path + "-lock"}) {
    if (chown(p.c_str(), st.st_uid, st.st_gid) != 0) {
      // Not fatal: root can still use it; a worker will say what it cannot open.
    }
  }
}

}  // namespace

std::string MdbError(std::string_view what, int rc) {
  return std::string(what) + ": " + mdb_strerror(rc);
}

Result<OpenedEnv> OpenEnv(const std::string& path, const std::vector<std::string_view>& dbs, size_t map_size) {
  MDB_env* raw = nullptr;
  if (int rc = mdb_env_create(&raw)) return Err(MdbError("lmdb env " + path, rc));
  OpenedEnv out{mdb::Env(raw), {}};
  mdb_env_set_maxdbs(raw, MDB_dbi(dbs.size() + 1));
  mdb_env_set_mapsize(raw, map_size);
  // NOMETASYNC: a system crash may undo the last batch of counters, never
  // corrupt the file; one fdatasync per batch instead of two.
  if (int rc = mdb_env_open(raw, path.c_str(), MDB_NOSUBDIR | MDB_NOTLS | MDB_NOMETASYNC, 0600))
    return Err(MdbError("open " + path, rc));
  HandToDirectoryOwner(path);
  // Never inherited by a child (LMDB must not cross fork/exec).
  if (int fd = -1; mdb_env_get_fd(raw, &fd) == 0 && fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
  int dead = 0;
  mdb_reader_check(raw, &dead);
  MDB_txn* t = nullptr;
  if (int rc = mdb_txn_begin(raw, nullptr, 0, &t)) return Err(MdbError("begin " + path, rc));
  mdb::Txn txn(t);
  for (auto name : dbs) {
    MDB_dbi dbi;
    std::string n(name);
    if (int rc = mdb_dbi_open(t, n.c_str(), MDB_CREATE, &dbi)) return Err(MdbError("open database " + n, rc));
    out.dbis.push_back(dbi);
  }
  if (int rc = txn.Commit()) return Err(MdbError("commit " + path, rc));
  return out;
}

void PutBe32(std::string* out, uint32_t v) {
  char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  out->append(b, 4);
}

uint32_t GetBe32(std::string_view s) {
  if (s.size() < 4) return 0;
  auto u = [&](size_t i) { return uint32_t(uint8_t(s[i])); };
  return u(0) << 24 | u(1) << 16 | u(2) << 8 | u(3);
}

uint64_t GetU64(const MDB_val& v) {
  uint64_t n = 0;
  if (v.mv_size == sizeof n) std::memcpy(&n, v.mv_data, sizeof n);
  return n;
}

}  // namespace postern::stats
