// ipc/verify.h — the smtpd/postern<->verify protocol (verify(8)): one query
// frame (is this sender or recipient deliverable?), one answer frame with the
// status Postfix's verify keeps (deliverable, undeliverable, unknown, in progress).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postern/ipc/call.h"
#include "postern/util/result.h"

namespace postern::ipc {

constexpr size_t kVerifyFrameMax = 64u << 10;

enum class VerifyKind : uint8_t { kSender = 'S', kRecipient = 'R' };

struct VerifyQuery {
  VerifyKind kind = VerifyKind::kRecipient;
  std::string address;
  uint32_t wait_ms = 0;  // how long the service may wait for a probe it starts
  bool fresh = false;    // probe even when the cache knows (postern verify, sendmail -bv)
  bool operator==(const VerifyQuery&) const = default;
};

// The cache's digits, as smtpf writes them; kInProgress only in answers.
enum class VerifyStatus : uint8_t {
  kDeliverable = '2',
  kUnknown = '4',       // the probe failed temporarily
  kUndeliverable = '5',
  kInProgress = '0',    // a probe is in flight: ask again later
};

struct VerifyAnswer {
  VerifyStatus status = VerifyStatus::kInProgress;
  std::string reason;  // the remote reply or why there was none
  bool operator==(const VerifyAnswer&) const = default;
};

std::string EncodeVerifyQuery(const VerifyQuery& q);
std::string EncodeVerifyAnswer(const VerifyAnswer& a);
std::optional<VerifyQuery> DecodeVerifyQuery(std::string_view payload);
std::optional<VerifyAnswer> DecodeVerifyAnswer(std::string_view payload);

// On the loop (smtpd): on_answer exactly once; an error when the service
// cannot be reached, breaks or outlasts timeout_ms.
void SendVerify(Call& call, const VerifyQuery& q, uint64_t timeout_ms,
                std::function<void(Result<VerifyAnswer>)> on_answer);
// Blocking (postern verify, sendmail -bv).
Result<VerifyAnswer> CallVerify(const std::string& socket_path, const VerifyQuery& q, int timeout_ms);

// The commands' line: "user@example.com: deliverable: host mx[...] said: 250 ...".
std::string DescribeVerify(std::string_view address, const VerifyAnswer& a);
// For the commands: a fresh probe of each address, one line each on stdout;
// 0 when every address got an answer, 1 (with a line on stderr) otherwise.
int VerifyAndPrint(const std::string& socket_path, VerifyKind kind, const std::vector<std::string>& addresses);

}  // namespace postern::ipc
