// ipc/bounce.h — the qmgr<->bounce protocol. qmgr connects to the bounce
// service ($queue_directory/private/bounce), sends one request frame naming a
// message still in the queue and the recipients to report; bounce enqueues the
// notice(s) and answers one frame. Framing as in delivery.h (frame.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postern/util/result.h"

namespace postern::ipc {

constexpr size_t kBounceFrameMax = 4u << 20;

// What the notice reports (Postfix's bounce, defer-warning and trace services).
enum class NoticeKind : uint8_t {
  kFailed = 'F',   // non-delivery: bounced or expired recipients
  kDelayed = 'D',  // delay warning: recipients still being retried
  kSuccess = 'S',  // NOTIFY=SUCCESS: delivered or relayed recipients
};

struct BounceRecipient {
  std::string address;
  std::string orig_recipient;  // DSN ORCPT as received ("rfc822;a@b"), may be empty
  uint8_t notify = 0;          // queue::Notify bits, 0 = not given
  std::string action;          // RFC 3464: failed, delayed, delivered, relayed, expanded
  std::string status;          // enhanced status "5.1.1"
  std::string diagnostic;      // the delivery agent's reason text
  std::string relay;           // "mx.example[192.0.2.7]:25", "local", "none"
  bool operator==(const BounceRecipient&) const = default;
};

struct BounceRequest {
  uint32_t message_id = 0;
  NoticeKind kind = NoticeKind::kFailed;
  std::vector<BounceRecipient> recipients;
  bool operator==(const BounceRequest&) const = default;
};

struct BounceAnswer {
  // true: the notices this request called for are in the queue (or none was
  // due, e.g. NOTIFY=NEVER or a discarded double bounce); qmgr may now remove
  // the reported envelopes. false: nothing was enqueued, try again later.
  bool ok = false;
  uint32_t notice_id = 0;  // the notice to the sender (or postmaster), 0 = none
  std::string text;        // why not, or what was done instead ("discarded")
  bool operator==(const BounceAnswer&) const = default;
};

// One frame's payload each (wrap with AppendFrame).
std::string EncodeBounceRequest(const BounceRequest& r);
std::string EncodeBounceAnswer(const BounceAnswer& a);
// nullopt when malformed (truncated, trailing bytes, wrong kind, bad enum).
std::optional<BounceRequest> DecodeBounceRequest(std::string_view payload);
std::optional<BounceAnswer> DecodeBounceAnswer(std::string_view payload);

// A blocking request for programs without an event loop (pickup): connects
// to the bounce service's socket, sends `req` and waits at most timeout_ms
// for the answer (bounce_call.cc).
Result<BounceAnswer> CallBounce(const std::string& socket_path, const BounceRequest& req, int timeout_ms);

}  // namespace postern::ipc
