// ipc/bounce.cc — encoding of the bounce protocol: a kind byte, then
// big-endian numbers and u32-length-prefixed strings, as delivery.cc.
#include "postern/ipc/bounce.h"

#include "postern/ipc/frame.h"

namespace postern::ipc {

namespace {

constexpr char kRequest = 'N', kAnswer = 'A';

bool ValidKind(uint8_t k) {
  return k == uint8_t(NoticeKind::kFailed) || k == uint8_t(NoticeKind::kDelayed) ||
         k == uint8_t(NoticeKind::kSuccess);
}

}  // namespace

std::string EncodeBounceRequest(const BounceRequest& r) {
  std::string out(1, kRequest);
  PutU32(r.message_id, &out);
  out.push_back(char(r.kind));
  PutU32(uint32_t(r.recipients.size()), &out);
  for (const auto& rc : r.recipients) {
    PutStr(rc.address, &out);
    PutStr(rc.orig_recipient, &out);
    out.push_back(char(rc.notify));
    PutStr(rc.action, &out);
    PutStr(rc.status, &out);
    PutStr(rc.diagnostic, &out);
    PutStr(rc.relay, &out);
  }
  return out;
}

std::string EncodeBounceAnswer(const BounceAnswer& a) {
  std::string out(1, kAnswer);
  out.push_back(a.ok ? 1 : 0);
  PutU32(a.notice_id, &out);
  PutStr(a.text, &out);
  return out;
}

std::optional<BounceRequest> DecodeBounceRequest(std::string_view in) {
  if (in.empty() || in[0] != kRequest) return std::nullopt;
  in.remove_prefix(1);
  BounceRequest r;
  uint8_t kind = 0;
  uint32_t count = 0;
  if (!GetU32(&in, &r.message_id) || !GetU8(&in, &kind) || !ValidKind(kind) || !GetU32(&in, &count))
    return std::nullopt;
  r.kind = NoticeKind(kind);
  // Each recipient takes at least 25 bytes: refuse counts the payload cannot hold.
  if (count > in.size() / 25) return std::nullopt;
  r.recipients.resize(count);
  for (auto& rc : r.recipients) {
    if (!GetStr(&in, &rc.address) || !GetStr(&in, &rc.orig_recipient) || !GetU8(&in, &rc.notify) ||
        !GetStr(&in, &rc.action) || !GetStr(&in, &rc.status) || !GetStr(&in, &rc.diagnostic) ||
        !GetStr(&in, &rc.relay))
      return std::nullopt;
  }
  if (!in.empty()) return std::nullopt;
  return r;
}

std::optional<BounceAnswer> DecodeBounceAnswer(std::string_view in) {
  if (in.empty() || in[0] != kAnswer) return std::nullopt;
  in.remove_prefix(1);
  BounceAnswer a;
  uint8_t ok = 0;
  if (!GetU8(&in, &ok) || ok > 1 || !GetU32(&in, &a.notice_id) || !GetStr(&in, &a.text) || !in.empty())
    return std::nullopt;
  a.ok = ok == 1;
  return a;
}

}  // namespace postern::ipc
