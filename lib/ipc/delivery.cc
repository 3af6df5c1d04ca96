// ipc/delivery.cc — encoding of the delivery protocol: a kind byte, then
// fixed-width big-endian numbers and u32-length-prefixed strings.
#include "postern/ipc/delivery.h"

#include "postern/ipc/frame.h"

namespace postern::ipc {

namespace {

constexpr char kRequest = 'Q', kResult = 'R', kConnection = 'C', kEnd = 'E', kKeep = 'K';

}  // namespace

std::string EncodeRequest(const DeliveryRequest& r) {
  std::string out(1, kRequest);
  PutU32(r.message_id, &out);
  PutStr(r.transport, &out);
  PutStr(r.nexthop, &out);
  PutStr(r.sender, &out);
  PutStr(r.dsn_envid, &out);
  PutU8(r.dsn_ret, &out);
  PutU32(r.flags, &out);
  PutU64(uint64_t(r.arrival), &out);
  PutU32(uint32_t(r.recipients.size()), &out);
  for (const auto& rc : r.recipients) {
    PutU64(rc.envelope_id, &out);
    PutStr(rc.address, &out);
    PutStr(rc.orig_recipient, &out);
    PutU8(rc.notify, &out);
  }
  return out;
}

std::string EncodeResult(const DeliveryResult& r) {
  std::string out(1, kResult);
  PutU64(r.envelope_id, &out);
  PutU8(uint8_t(r.status), &out);
  PutStr(r.dsn, &out);
  PutStr(r.reason, &out);
  PutStr(r.relay, &out);
  PutU8(r.relayed_without_dsn ? 1 : 0, &out);
  return out;
}

std::string EncodeConnection(const ConnectionFact& c) {
  std::string out(1, kConnection);
  PutU8(uint8_t(c.kind), &out);
  PutStr(c.relay, &out);
  PutU32(c.port, &out);
  PutStr(c.tls, &out);
  PutStr(c.host, &out);
  PutStr(c.address, &out);
  PutStr(c.source, &out);
  PutStr(c.error, &out);
  return out;
}

std::string EncodeEnd(bool keep) { return keep ? std::string{kEnd, kKeep} : std::string(1, kEnd); }

bool EndKeeps(std::string_view payload) { return payload.size() == 2 && payload[0] == kEnd && payload[1] == kKeep; }

DeliveryFrame KindOf(std::string_view payload) {
  if (payload.empty()) return DeliveryFrame::kBad;
  switch (payload[0]) {
    case kRequest: return DeliveryFrame::kRequest;
    case kResult: return DeliveryFrame::kResult;
    case kConnection: return DeliveryFrame::kConnection;
    case kEnd:
      return payload.size() == 1 || (payload.size() == 2 && payload[1] == kKeep) ? DeliveryFrame::kEnd
                                                                                 : DeliveryFrame::kBad;
    default: return DeliveryFrame::kBad;
  }
}

std::optional<DeliveryRequest> DecodeRequest(std::string_view in) {
  if (KindOf(in) != DeliveryFrame::kRequest) return std::nullopt;
  in.remove_prefix(1);
  DeliveryRequest r;
  uint32_t count = 0;
  if (!GetU32(&in, &r.message_id) || !GetStr(&in, &r.transport) || !GetStr(&in, &r.nexthop) ||
      !GetStr(&in, &r.sender) || !GetStr(&in, &r.dsn_envid) || !GetU8(&in, &r.dsn_ret) ||
      !GetU32(&in, &r.flags) || !GetI64(&in, &r.arrival) || !GetU32(&in, &count))
    return std::nullopt;
  // Each recipient takes at least 17 bytes: refuse counts the payload cannot hold.
  if (count > in.size() / 17) return std::nullopt;
  r.recipients.resize(count);
  for (auto& rc : r.recipients)
    if (!GetU64(&in, &rc.envelope_id) || !GetStr(&in, &rc.address) ||
        !GetStr(&in, &rc.orig_recipient) || !GetU8(&in, &rc.notify))
      return std::nullopt;
  if (!in.empty()) return std::nullopt;
  return r;
}

std::optional<DeliveryResult> DecodeResult(std::string_view in) {
  if (KindOf(in) != DeliveryFrame::kResult) return std::nullopt;
  in.remove_prefix(1);
  DeliveryResult r;
  uint8_t status = 0, relayed = 0;
  if (!GetU64(&in, &r.envelope_id) || !GetU8(&in, &status) || !GetStr(&in, &r.dsn) ||
      !GetStr(&in, &r.reason) || !GetStr(&in, &r.relay) || !GetU8(&in, &relayed) || !in.empty())
    return std::nullopt;
  if (status != uint8_t(DeliveryStatus::kSent) && status != uint8_t(DeliveryStatus::kDeferred) &&
      status != uint8_t(DeliveryStatus::kBounced))
    return std::nullopt;
  r.status = DeliveryStatus(status);
  r.relayed_without_dsn = relayed != 0;
  return r;
}

std::optional<ConnectionFact> DecodeConnection(std::string_view in) {
  if (KindOf(in) != DeliveryFrame::kConnection) return std::nullopt;
  in.remove_prefix(1);
  ConnectionFact c;
  uint8_t kind = 0;
  uint32_t port = 0;
  if (!GetU8(&in, &kind) || !GetStr(&in, &c.relay) || !GetU32(&in, &port) || !GetStr(&in, &c.tls) ||
      !GetStr(&in, &c.host) || !GetStr(&in, &c.address) || !GetStr(&in, &c.source) || !GetStr(&in, &c.error) ||
      !in.empty() || port > 65535)
    return std::nullopt;
  using K = ConnectionFact::Kind;
  if (kind != uint8_t(K::kNew) && kind != uint8_t(K::kReused) && kind != uint8_t(K::kFailed)) return std::nullopt;
  c.kind = K(kind);
  c.port = uint16_t(port);
  return c;
}

}  // namespace postern::ipc
