// verify/cache_entry.cc — cache keys, values and freshness for verify(8);
// see cache_entry.h.
#include "verify/cache_entry.h"

#include "postern/util/strings.h"

namespace postern::verify {

namespace {
constexpr std::string_view kInReplyToRcpt = "(in reply to RCPT TO command)";
}

std::string AddressKey(ipc::VerifyKind kind, std::string_view address) {
  return (kind == ipc::VerifyKind::kSender ? "sav:" : "rcpt:") + ToLower(address);
}

std::string DomainKey(std::string_view address) {
  size_t at = address.rfind('@');
  if (at == std::string_view::npos || at + 1 == address.size()) return "";
  return "sav:" + ToLower(address.substr(at + 1));
}

std::string FormatValue(const ipc::VerifyAnswer& a) {
  return std::string(1, char(a.status)) + " " + a.reason;
}

std::optional<ipc::VerifyAnswer> ParseValue(std::string_view value) {
  if (value.empty()) return std::nullopt;
  char d = value[0];
  if (d != '2' && d != '4' && d != '5') return std::nullopt;
  if (value.size() > 1 && value[1] != ' ') return std::nullopt;
  ipc::VerifyAnswer a;
  a.status = ipc::VerifyStatus(d);
  if (value.size() > 2) a.reason = std::string(value.substr(2));
  return a;
}

uint64_t ExpireTime(ipc::VerifyStatus s, const Lifetimes& l) {
  if (s == ipc::VerifyStatus::kDeliverable) return l.positive_expire;
  return l.negative_cache ? l.negative_expire : 0;
}

bool NeedsRefresh(ipc::VerifyStatus s, std::time_t expires, std::time_t now, const Lifetimes& l) {
  bool positive = s == ipc::VerifyStatus::kDeliverable;
  uint64_t expire = positive ? l.positive_expire : l.negative_expire;
  uint64_t refresh = positive ? l.positive_refresh : l.negative_refresh;
  std::time_t written = expires - std::time_t(expire);
  return now - written >= std::time_t(refresh);
}

ipc::VerifyAnswer DomainResult(const ipc::VerifyAnswer& probe) {
  if (probe.reason.find(kInReplyToRcpt) != std::string::npos)
    return {ipc::VerifyStatus::kDeliverable, probe.reason};
  return probe;
}

}  // namespace postern::verify
