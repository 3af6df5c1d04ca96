// smtpd/tls.h — smtpd's TLS parameters (smtpd_tls_*). The certificate and
// key are read once per process, before it drops root's privileges (a key
// may be mode 0600 owned by root): a reload starts new workers, which read
// them again, while the old ones finish their sessions with what they had.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "postern/config/maincf.h"
#include "postern/tls/tls.h"
#include "postern/util/result.h"

namespace postern::smtpd {

// The server's certificate and key as read from the files main.cf names. A
// file that cannot be read leaves creds empty: TLS is then unavailable (the
// warning naming the file is logged once, when reading), not fatal, as in
// Postfix.
struct ServerKeys {
  std::string cert_file, key_file;
  std::vector<std::string> chain_files;
  std::shared_ptr<tls::Credentials> creds;
  bool read = false;  // the files were read (TLS was on for this service)

  // Reads the files if TLS is on for this service; an error only for bad
  // configuration values.
  static Result<ServerKeys> Load(const config::Config& cfg);
  // The files main.cf names now are the ones these keys came from.
  bool Same(const config::Config& cfg) const;
};

struct TlsSettings {
  enum class Level { kNone, kMay, kEncrypt };
  Level level = Level::kNone;
  bool wrapper = false;           // smtpd_tls_wrappermode: TLS from the first byte (port 465)
  bool received_header = false;   // smtpd_tls_received_header
  int loglevel = 0;               // smtpd_tls_loglevel
  tls::Config config;             // valid when available()

  bool enabled() const { return level != Level::kNone || wrapper; }
  // Enabled, and the certificate and key could be loaded.
  bool available() const { return enabled() && config.creds != nullptr; }
  // keys: what privileged_init read; read again (as the current user) when
  // main.cf now names other files (`postern set option`).
  static Result<TlsSettings> Load(const config::Config& cfg, const std::string& queue_directory, ServerKeys* keys);
};

}  // namespace postern::smtpd
