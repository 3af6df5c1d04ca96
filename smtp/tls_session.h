// smtp/tls_session.h — the client's TLS session cache
// (smtp_tls_session_cache_database): sessions saved in one LMDB file shared by
// every smtp process, so that the next connection to the same server, from
// any worker, resumes instead of doing a full handshake.
#pragma once

#include <gnutls/gnutls.h>

#include <memory>
#include <string>
#include <string_view>

#include "postern/config/maincf.h"
#include "postern/stats/cache.h"
#include "postern/util/result.h"

namespace postern::smtp_client {

class TlsSessionCache {
 public:
  // nullptr when smtp_tls_session_cache_database is empty or the timeout is
  // 0. A database that does not open is a warning: mail goes on uncached.
  static Result<std::unique_ptr<TlsSessionCache>> Load(const config::Config& cfg, bool lmtp);
  // Postfix's "type:name" (lmdb, btree, hash): the LMDB file name.lmdb.
  static Result<std::string> FilePath(std::string_view spec);
  // Like Postfix's, a key names the service, the next hop, the server and
  // what the session was set up under (policy and SNI name).
  static std::string Key(std::string_view service, std::string_view nexthop, std::string_view peer,
                         std::string_view policy, std::string_view server_name);

  // The saved session for `key`; "" when there is none or it expired.
  std::string Find(const std::string& key);
  // Keeps the session of `s` when the server gave one to resume (a TLS 1.3
  // ticket, a TLS 1.2 ticket or session id).
  void Save(const std::string& key, gnutls_session_t s);

 private:
  std::unique_ptr<stats::PolicyCache> db_;
  std::string path_;
  uint64_t timeout_s_ = 3600;
};

}  // namespace postern::smtp_client
