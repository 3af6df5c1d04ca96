// queue/schema.h — what the queue stores and how: message records and
// envelopes as compact versioned binary values, and the big-endian keys
// that make LMDB's byte order the order we iterate in (ids, schedule time).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "postern/queue/ids.h"

namespace postern::queue {

// Bounds on stored strings; encode refuses longer ones, decode rejects them.
inline constexpr size_t kMaxAddress = 2048;  // sender, recipient, ORCPT (xtext may be long)
inline constexpr size_t kMaxAttr = 1024;     // client, helo, protocol, auth, ENVID, transport
inline constexpr size_t kMaxError = 2048;    // last delivery error text

enum class State : uint8_t {
  kIncoming = 1,  // committed, not yet seen by qmgr
  kActive = 2,    // handed to a delivery agent ("in flight"; owner recorded)
  kDeferred = 3,  // waiting for its next attempt
  kHold = 4,      // held by the administrator
  kCorrupt = 5,   // its message cannot be read back
};
inline constexpr State kAllStates[] = {State::kIncoming, State::kActive, State::kDeferred,
                                       State::kHold, State::kCorrupt};
const char* StateName(State s);
std::optional<State> ParseState(std::string_view name);
// States whose envelopes sit in the schedule index (waiting for an attempt).
inline bool Scheduled(State s) { return s == State::kIncoming || s == State::kDeferred; }

// Message flags (ESMTP parameters that matter for delivery).
enum MessageFlag : uint32_t {
  kFlag8BitMime = 1u << 0,
  kFlagSmtpUtf8 = 1u << 1,
  kFlagBinaryMime = 1u << 2,
  kFlagRequireTls = 1u << 3,
  // Queue bookkeeping, not ESMTP: qmgr sent the delay warning (delay_warning_time).
  kFlagDelayWarned = 1u << 16,
  // Delivery requests only, never stored: verify(8)'s address probe. The
  // transport stops after RCPT (no DATA) and reports what it would do.
  kFlagVerifyProbe = 1u << 24,
};

enum class DsnRet : uint8_t { kUnset = 0, kFull = 1, kHdrs = 2 };

// RFC 3461 NOTIFY; 0 means "not given" (the MTA's default applies).
enum Notify : uint8_t {
  kNotifyNever = 1u << 0,
  kNotifySuccess = 1u << 1,
  kNotifyFailure = 1u << 2,
  kNotifyDelay = 1u << 3,
};

struct MessageRecord {
  MsgId id = 0;  // the key, not part of the value
  std::string sender;  // empty for the null sender <>
  int64_t arrival = 0;  // seconds since the epoch
  uint64_t size = 0;    // body bytes as stored
  std::string client_name, client_addr, helo, protocol, auth_user;
  uint16_t client_port = 0;  // the client's TCP port; 0: none or unknown (XFORWARD PORT)
  std::string dsn_envid;
  DsnRet dsn_ret = DsnRet::kUnset;
  uint32_t flags = 0;
  uint32_t nrcpt = 0;  // recipients at arrival
  bool operator==(const MessageRecord&) const = default;
};

struct Envelope {
  EnvId id = 0;  // the key, not part of the value
  std::string recipient, orig_recipient;
  uint8_t notify = 0;
  State state = State::kIncoming;
  uint32_t owner_pid = 0;     // kActive only: the process that took it
  uint64_t owner_start = 0;   // that process's start time (guards against pid reuse)
  uint32_t attempts = 0;
  std::string last_error;
  // expiry is not stamped at enqueue (0 in the store): qmgr's lifetimes
  // decide it (queue/lifetime.h), and listings fill it in from them.
  int64_t created = 0, next_attempt = 0, expiry = 0, last_attempt = 0;
  std::string transport, nexthop;  // routing decided by qmgr, empty until then
  // An access or header_checks FILTER action ("transport:nexthop"): qmgr
  // routes the envelope there instead of resolving the recipient.
  std::string filter;
  bool operator==(const Envelope&) const = default;
};

// Values. Encode fails (nullopt) when a string exceeds its bound.
std::optional<std::string> EncodeMessage(const MessageRecord& m);
std::optional<std::string> EncodeEnvelope(const Envelope& e);
// Decode rejects unknown versions, truncation, oversized strings and trailing bytes.
std::optional<MessageRecord> DecodeMessage(MsgId id, std::string_view value);
std::optional<Envelope> DecodeEnvelope(EnvId id, std::string_view value);

// Keys, big-endian.
std::string MsgKey(MsgId id);                       // 4 bytes
std::string EnvKey(EnvId id);                       // 8 bytes
std::string SchedKey(int64_t when, EnvId id);       // 8 + 8 bytes
std::string StateKey(State s, EnvId id);            // 1 + 8 bytes
uint64_t LoadBE(std::string_view bytes);            // up to 8 bytes
void AppendBE(std::string* out, uint64_t v, int bytes);

}  // namespace postern::queue
