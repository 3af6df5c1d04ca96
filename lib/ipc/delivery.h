// ipc/delivery.h — the qmgr<->transport delivery protocol. qmgr connects to a
// transport's unix service and sends one request frame (one request = one client
// for max_use); the transport answers one result frame per recipient, in any
// order, then an end frame. An end frame that says "keep" leaves the connection
// open for the next request (qmgr pools it); a plain one closes it. qmgr alone
// updates the queue.
// A network transport (smtp, lmtp) also reports each connection it made,
// reused or failed to make, as it happens (connection frames, before the end).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::ipc {

// Largest frame either side accepts (a request with many long recipients).
constexpr size_t kDeliveryFrameMax = 4u << 20;

struct DeliveryRecipient {
  uint64_t envelope_id = 0;
  std::string address;
  std::string orig_recipient;  // DSN ORCPT as received, may be empty
  uint8_t notify = 0;          // queue::Notify bits, 0 = not given
  bool operator==(const DeliveryRecipient&) const = default;
};

struct DeliveryRequest {
  uint32_t message_id = 0;
  std::string transport;  // master.cf service name it was sent to ("smtp", "local")
  std::string nexthop;    // "[mx.example]:25", "example.com", "unix:/path", or the local domain
  std::string sender;     // empty = null sender
  std::string dsn_envid;
  uint8_t dsn_ret = 0;    // queue::DsnRet
  uint32_t flags = 0;     // queue::MessageFlag bits
  int64_t arrival = 0;    // for delay= in the log line
  std::vector<DeliveryRecipient> recipients;
  bool operator==(const DeliveryRequest&) const = default;
};

enum class DeliveryStatus : uint8_t {
  kSent = 'S',      // delivered (or relayed); envelope done
  kDeferred = 'D',  // temporary failure; try again later
  kBounced = 'B',   // permanent failure; return to sender
};

struct DeliveryResult {
  uint64_t envelope_id = 0;
  DeliveryStatus status = DeliveryStatus::kDeferred;
  std::string dsn;     // enhanced status "2.0.0", "4.4.1", "5.1.1"
  std::string reason;  // "250 2.0.0 Ok: queued as X", "connect to h[a]:25: Connection refused"
  std::string relay;   // "mx.example[192.0.2.7]:25", "local", "none"
  bool relayed_without_dsn = false;  // the next hop does not speak DSN (RFC 3461 "relayed")
  bool operator==(const DeliveryResult&) const = default;
};

// What a network transport tells qmgr about one connection (smtpctl's
// show hosts|routes|relays). The route is (source, address); the relay is the
// next hop as the transport tried it (the request's, or a fallback relay).
struct ConnectionFact {
  enum class Kind : uint8_t {
    kNew = 'N',     // connected: a new connection, now used by this request
    kReused = 'R',  // a cached connection taken for this request
    kFailed = 'F',  // the connection could not be set up (TCP connect)
  };
  Kind kind = Kind::kNew;
  std::string relay;    // "example.com", "[mx.example]" (no MX lookup), "unix:/path"
  uint16_t port = 0;    // of the relay (0: unix socket)
  std::string tls;      // the TLS security level of the relay's policy ("none", "may", ...)
  std::string host;     // the server's name (an MX host, or the relay itself)
  std::string address;  // its address, or a unix socket path
  std::string source;   // our bind address (smtp_bind_address); empty: any
  std::string error;    // kFailed: why
  bool operator==(const ConnectionFact&) const = default;
};

// One frame's payload each (wrap with AppendFrame).
std::string EncodeRequest(const DeliveryRequest& r);
std::string EncodeResult(const DeliveryResult& r);
std::string EncodeConnection(const ConnectionFact& c);
// keep: the agent waits on this connection for another request.
std::string EncodeEnd(bool keep = false);

enum class DeliveryFrame { kRequest, kResult, kConnection, kEnd, kBad };
DeliveryFrame KindOf(std::string_view payload);
// nullopt when malformed (truncated, trailing bytes, wrong kind).
std::optional<DeliveryRequest> DecodeRequest(std::string_view payload);
std::optional<DeliveryResult> DecodeResult(std::string_view payload);
std::optional<ConnectionFact> DecodeConnection(std::string_view payload);
// Of an end frame: whether the agent keeps the connection for another request.
bool EndKeeps(std::string_view payload);

}  // namespace postern::ipc
