// smtp/tls_session.cc — client TLS sessions in an LMDB file; see tls_session.h.
#include "smtp/tls_session.h"

#include <ctime>

#include "postern/log/log.h"
#include "postern/util/strings.h"
#include "smtp/settings.h"

namespace postern::smtp_client {

Result<std::string> TlsSessionCache::FilePath(std::string_view spec) {
  size_t colon = spec.find(':');
  if (colon == std::string_view::npos || colon + 1 == spec.size())
    return Err("\"" + std::string(spec) + "\" is not type:name");
  std::string type = ToLower(spec.substr(0, colon));
  // Postfix's usual btree: or hash: caches become LMDB files beside the name.
  if (type != "lmdb" && type != "btree" && type != "hash")
    return Err("table type \"" + type + "\" cannot hold a session cache (lmdb, btree, hash)");
  return std::string(spec.substr(colon + 1)) + ".lmdb";
}

Result<std::unique_ptr<TlsSessionCache>> TlsSessionCache::Load(const config::Config& cfg, bool lmtp) {
  const std::string db_param = ParamName(lmtp, "smtp_tls_session_cache_database");
  auto spec = cfg.Get(db_param);
  auto timeout = cfg.GetTime(ParamName(lmtp, "smtp_tls_session_cache_timeout"));
  if (!spec) return Err(spec.error());
  if (!timeout) return Err(timeout.error());
  if (spec->empty() || timeout->count() <= 0) return std::unique_ptr<TlsSessionCache>();
  auto path = FilePath(*spec);
  if (!path) return Err(db_param + ": " + path.error());
  auto c = std::make_unique<TlsSessionCache>();
  c->path_ = *path;
  // Postfix's limit: sessions older than 100 days are never used.
  c->timeout_s_ = std::min<uint64_t>(uint64_t(timeout->count()), 8640000);
  auto db = stats::PolicyCache::Open(c->path_);
  if (!db) {
    log::Warning("{}: cannot open {}: {}; TLS sessions are not cached", db_param, c->path_, db.error());
    return c;
  }
  c->db_ = std::move(*db);
  if (auto swept = c->db_->Sweep(std::time(nullptr)); !swept)
    log::Warning("TLS session cache {}: {}", c->path_, swept.error());
  return c;
}

std::string TlsSessionCache::Key(std::string_view service, std::string_view nexthop, std::string_view peer,
                                 std::string_view policy, std::string_view server_name) {
  std::string key = std::string(service) + ":" + std::string(nexthop) + "&" + std::string(peer) + "&" +
                    std::string(server_name) + "&" + std::string(policy);
  // LMDB keys are short; a long policy text is cut (the start still differs).
  if (key.size() > stats::PolicyCache::kMaxKey) key.resize(stats::PolicyCache::kMaxKey);
  return key;
}

std::string TlsSessionCache::Find(const std::string& key) {
  if (!db_) return "";
  auto e = db_->Get(key, std::time(nullptr));
  if (!e) {
    log::Warning("TLS session cache {}: {}", path_, e.error());
    return "";
  }
  return *e ? std::move((*e)->value) : "";
}

void TlsSessionCache::Save(const std::string& key, gnutls_session_t s) {
  if (!db_) return;
  // Without a ticket (or a TLS 1.2 session id) GnuTLS would hand out data
  // that cannot resume anything.
  bool resumable = (gnutls_session_get_flags(s) & GNUTLS_SFLAGS_SESSION_TICKET) != 0 ||
                   (gnutls_protocol_get_version(s) != GNUTLS_TLS1_3 && gnutls_session_is_resumed(s) == 0);
  if (!resumable) return;
  gnutls_datum_t data{nullptr, 0};
  if (gnutls_session_get_data2(s, &data) < 0) return;
  std::string_view value(reinterpret_cast<const char*>(data.data), data.size);
  if (value.size() <= stats::PolicyCache::kMaxValue) {
    if (auto r = db_->Put(key, value, timeout_s_, std::time(nullptr)); !r)
      log::Warning("TLS session cache {}: {}", path_, r.error());
  }
  gnutls_free(data.data);
}

}  // namespace postern::smtp_client
