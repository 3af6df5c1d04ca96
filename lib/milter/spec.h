// milter/spec.h — what main.cf says about milters: the smtpd_milters /
// non_smtpd_milters lists (with Postfix's per-milter "{ name, attr=value }"
// form), the timeouts, milter_default_action, milter_protocol and the macro
// lists per protocol stage. Read once at start-up.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "postern/milter/protocol.h"
#include "postern/util/result.h"

namespace postern::config {
class Config;
}

namespace postern::milter {

// What to do when a milter cannot be used (Postfix's milter_default_action).
enum class DefaultAction { kTempfail, kAccept, kReject, kQuarantine };
Result<DefaultAction> ParseDefaultAction(std::string_view s);

struct Spec {
  std::string name;      // as configured: inet:host:port or unix:/path (log lines use it)
  std::string endpoint;  // unix: paths relative to the queue directory made absolute
  uint64_t connect_timeout_ms = 30000, command_timeout_ms = 30000, content_timeout_ms = 300000;
  DefaultAction default_action = DefaultAction::kTempfail;
  uint32_t version = 6;     // milter_protocol's version
  uint32_t events = kV6Events;  // what that version lets us announce (and no_header_reply)
};

// milter_protocol: "6", "4", "3", "2", optionally with "no_header_reply".
Result<void> ParseProtocol(std::string_view s, Spec* spec);

// A whitespace/comma separated list of milters; "{ endpoint, name=value, ... }"
// overrides connect_timeout, command_timeout, content_timeout,
// default_action and protocol for one milter.
Result<std::vector<Spec>> ParseList(std::string_view value, const Spec& defaults, std::string_view queue_dir);

struct Settings {
  std::vector<Spec> smtpd, non_smtpd;
  std::array<std::vector<std::string>, kStages> macros;  // names per Stage
  std::vector<std::string> unknown_macros;  // milter_unknown_command_macros
  std::string daemon_name;                  // milter_macro_daemon_name
  std::string v;                            // milter_macro_v

  static Result<Settings> Load(const config::Config& cfg);
};

}  // namespace postern::milter
