// ipc/verify.cc — encoding of the verify protocol (verify.h) and its two
// callers: on the loop through Call, and blocking through CallOnce.
#include "postern/ipc/verify.h"

#include <cstdio>
#include <memory>

#include "postern/ipc/frame.h"

namespace postern::ipc {

namespace {
constexpr char kQuery = 'V';
constexpr char kAnswer = 'A';
constexpr uint32_t kCommandWaitMs = 120000;  // a command waits this long for its probe

bool ValidStatus(uint8_t s) { return s == '0' || s == '2' || s == '4' || s == '5'; }
}  // namespace

std::string EncodeVerifyQuery(const VerifyQuery& q) {
  std::string out(1, kQuery);
  PutU8(uint8_t(q.kind), &out);
  PutU32(q.wait_ms, &out);
  PutU8(q.fresh ? 1 : 0, &out);
  PutStr(q.address, &out);
  return out;
}

std::string EncodeVerifyAnswer(const VerifyAnswer& a) {
  std::string out(1, kAnswer);
  PutU8(uint8_t(a.status), &out);
  PutStr(a.reason, &out);
  return out;
}

std::optional<VerifyQuery> DecodeVerifyQuery(std::string_view p) {
  if (p.empty() || p[0] != kQuery) return std::nullopt;
  p.remove_prefix(1);
  VerifyQuery q;
  uint8_t kind = 0, fresh = 0;
  if (!GetU8(&p, &kind) || !GetU32(&p, &q.wait_ms) || !GetU8(&p, &fresh) || !GetStr(&p, &q.address) || !p.empty())
    return std::nullopt;
  if (kind != uint8_t(VerifyKind::kSender) && kind != uint8_t(VerifyKind::kRecipient)) return std::nullopt;
  if (fresh > 1) return std::nullopt;
  q.kind = VerifyKind(kind);
  q.fresh = fresh == 1;
  return q;
}

std::optional<VerifyAnswer> DecodeVerifyAnswer(std::string_view p) {
  if (p.empty() || p[0] != kAnswer) return std::nullopt;
  p.remove_prefix(1);
  VerifyAnswer a;
  uint8_t status = 0;
  if (!GetU8(&p, &status) || !ValidStatus(status) || !GetStr(&p, &a.reason) || !p.empty()) return std::nullopt;
  a.status = VerifyStatus(status);
  return a;
}

void SendVerify(Call& call, const VerifyQuery& q, uint64_t timeout_ms,
                std::function<void(Result<VerifyAnswer>)> on_answer) {
  auto got = std::make_shared<std::optional<VerifyAnswer>>();
  call.Send(
      EncodeVerifyQuery(q),
      [got](std::string_view payload, std::string* why) {
        *got = DecodeVerifyAnswer(payload);
        if (!*got) *why = "malformed answer";
        return *got ? Call::Next::kLast : Call::Next::kBad;
      },
      [got, on_answer](Call::End how, const std::string& why) {
        if (how == Call::End::kDone && *got) return on_answer(std::move(**got));
        on_answer(Err(why.empty() ? std::string("no answer") : why));
      },
      timeout_ms);
}

Result<VerifyAnswer> CallVerify(const std::string& socket_path, const VerifyQuery& q, int timeout_ms) {
  auto payload = CallOnce(socket_path, EncodeVerifyQuery(q), kVerifyFrameMax, timeout_ms);
  if (!payload) return Err(payload.error());
  auto a = DecodeVerifyAnswer(*payload);
  if (!a) return Err("malformed answer from " + socket_path);
  return *a;
}

std::string DescribeVerify(std::string_view address, const VerifyAnswer& a) {
  const char* word = a.status == VerifyStatus::kDeliverable     ? "deliverable"
                     : a.status == VerifyStatus::kUndeliverable ? "undeliverable"
                     : a.status == VerifyStatus::kUnknown       ? "unknown (temporary failure)"
                                                                : "in progress";
  return std::string(address) + ": " + word + (a.reason.empty() ? "" : ": " + a.reason);
}

int VerifyAndPrint(const std::string& socket_path, VerifyKind kind, const std::vector<std::string>& addresses) {
  int status = 0;
  for (const std::string& addr : addresses) {
    VerifyQuery q{kind, addr, kCommandWaitMs, true};
    auto a = CallVerify(socket_path, q, int(kCommandWaitMs) + 10000);
    if (!a) {
      std::fprintf(stderr, "%s: address verification failed: %s (is the verify service in master.cf and the "
                           "mail system running?)\n", addr.c_str(), a.error().c_str());
      status = 1;
      continue;
    }
    std::printf("%s\n", DescribeVerify(addr, *a).c_str());
  }
  return std::fflush(stdout) == 0 ? status : 1;
}

}  // namespace postern::ipc
