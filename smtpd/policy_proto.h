// smtpd/policy_proto.h — Postfix's SMTPD policy delegation protocol
// (SMTPD_POLICY_README): the check_policy_service argument, the request's
// name=value lines and the reply's action=; pure functions, no I/O.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "postern/util/result.h"

namespace postern::smtpd::policy {

// Per service, from the smtpd_policy_service_* defaults and the Postfix 3.x
// override form "{ inet:host:port, timeout=10s, default_action=DUNNO }".
struct ServiceSpec {
  std::string endpoint;  // "inet:127.0.0.1:10023" or "unix:/path" (made absolute)
  std::chrono::milliseconds timeout{100000};
  std::chrono::milliseconds max_idle{300000};
  std::chrono::milliseconds max_ttl{1000000};
  std::chrono::milliseconds retry_delay{1000};
  long long request_limit = 0;  // 0: no limit
  long long try_limit = 2;
  std::string default_action = "451 4.3.5 Server configuration problem";
  std::string policy_context;
};

// Parses one check_policy_service argument over the defaults in `base`.
// unix:private/name is relative to queue_dir, as Postfix's.
Result<ServiceSpec> ParseServiceSpec(std::string_view arg, const ServiceSpec& base, std::string_view queue_dir);

using Attributes = std::vector<std::pair<std::string, std::string>>;

// "name=value\n" lines and the empty line; a value loses CR and LF (they
// would end the request early).
std::string EncodeRequest(const Attributes& attrs);

// Collects a reply: Feed lines (without LF) until done(); then action() is
// the action= value, empty when the server sent none (garbage).
class ReplyParser {
 public:
  // false once the empty line ended the reply.
  bool Feed(std::string_view line);
  bool done() const { return done_; }
  const std::string& action() const { return action_; }
  size_t lines() const { return lines_; }

 private:
  bool done_ = false;
  std::string action_;
  size_t lines_ = 0;
};

constexpr size_t kMaxReplyLine = 8192;   // a longer line is garbage
constexpr size_t kMaxReplyLines = 100;   // a longer reply is garbage

}  // namespace postern::smtpd::policy
