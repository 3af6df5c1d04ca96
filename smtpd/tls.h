// smtpd/tls.h — smtpd's TLS parameters (smtpd_tls_*), read once per process:
// a reload starts new workers, which load the certificate again, while the
// old ones finish their sessions with what they loaded.
#pragma once

#include <cstdint>
#include <string>

#include "config/maincf.h"
#include "tls/tls.h"
#include "util/result.h"

namespace postern::smtpd {

struct TlsSettings {
  enum class Level { kNone, kMay, kEncrypt };
  Level level = Level::kNone;
  bool wrapper = false;           // smtpd_tls_wrappermode: TLS from the first byte (port 465)
  bool received_header = false;   // smtpd_tls_received_header
  int loglevel = 0;
  tls::Config config;             // valid when level != kNone or wrapper

  bool enabled() const { return level != Level::kNone || wrapper; }
  static Result<TlsSettings> Load(const config::Config& cfg, const std::string& queue_directory);
};

}  // namespace postern::smtpd
