// stats/db.h — opening the small LMDB environments of lib/stats (the stats
// store and the policy cache): one file each (MDB_NOSUBDIR) beside a "-lock"
// file. Several processes write them, so the lock file is used; a file made
// by root is handed to the owner of its directory so that workers running
// as mail_owner can open it too.
#pragma once

#include <lmdb.h>

#include <string>
#include <string_view>
#include <vector>

#include "postern/queue/lmdb.h"
#include "postern/util/result.h"

namespace postern::stats {

namespace mdb = queue::mdb;

struct OpenedEnv {
  mdb::Env env;
  std::vector<MDB_dbi> dbis;  // in the order of the names asked for
};

// Opens (creating when missing) the environment at path with the named
// databases. map_size is the most the file may grow to (sparse until used).
Result<OpenedEnv> OpenEnv(const std::string& path, const std::vector<std::string_view>& dbs,
                          size_t map_size);

std::string MdbError(std::string_view what, int rc);

// Fixed-width big-endian and native integers as LMDB keys and values.
void PutBe32(std::string* out, uint32_t v);
uint32_t GetBe32(std::string_view s);
uint64_t GetU64(const MDB_val& v);  // 0 unless exactly 8 bytes

}  // namespace postern::stats
