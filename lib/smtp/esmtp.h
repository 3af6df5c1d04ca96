// smtp/esmtp.h — ESMTP parameters of MAIL and RCPT (SIZE, BODY, SMTPUTF8, RET,
// ENVID, AUTH, NOTIFY, ORCPT) and RFC 3461 xtext. Total on arbitrary bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postern/smtp/limits.h"
#include "postern/util/result.h"

namespace postern::smtp {

struct EsmtpParam {
  std::string_view key;    // as written; compare case-insensitively
  std::string_view value;  // empty when has_value is false
  bool has_value = false;
};

// Splits "KEY=VALUE KEY ..." (RFC 5321 esmtp-param; RFC 6531 UTF-8 values)
// and refuses duplicate keys (case-insensitive) and more than max_params.
Result<std::vector<EsmtpParam>> SplitParams(std::string_view s,
                                            size_t max_params = kMaxEsmtpParams);

enum class Body { kUnspecified, k7Bit, k8BitMime, kBinaryMime };
enum class Ret { kUnspecified, kFull, kHdrs };

struct MailParams {
  std::optional<uint64_t> size;
  Body body = Body::kUnspecified;
  bool smtputf8 = false;
  Ret ret = Ret::kUnspecified;
  std::optional<std::string> envid;  // decoded from xtext
  std::optional<std::string> auth;   // decoded from xtext; "<>" kept as is
};

enum NotifyFlags : unsigned {
  kNotifyNever = 1, kNotifySuccess = 2, kNotifyFailure = 4, kNotifyDelay = 8,
};

struct RcptParams {
  unsigned notify = 0;             // NotifyFlags; 0 when NOTIFY was absent
  std::string orcpt_type;          // "rfc822" (as written); empty when absent
  std::optional<std::string> orcpt; // decoded address
};

// Why parameters were refused; smtpd maps kSyntax to 501 5.5.4 and
// kUnsupported to 555 5.5.4 as Postfix does.
enum class ParamError { kNone, kSyntax, kUnsupported };

struct ParamStatus {
  ParamError error = ParamError::kNone;
  std::string text;  // e.g. "Bad SIZE syntax", "Unsupported option: FOO"
  bool ok() const { return error == ParamError::kNone; }
};

// Parses MAIL FROM parameters into *out (reset first).
ParamStatus ParseMailParams(std::string_view s, MailParams* out);
// Parses RCPT TO parameters into *out (reset first).
ParamStatus ParseRcptParams(std::string_view s, RcptParams* out);

// RFC 3461 xtext: octets 33..126 other than '+' and '=' stand for
// themselves, anything else is "+XX" (upper-case hex).
std::string XtextEncode(std::string_view raw);
// Decodes and validates xtext (hex digits of either case are accepted on
// input); an error for a stray '+', bad hex or an octet outside 33..126.
Result<std::string> XtextDecode(std::string_view xtext);

// The value text for "NOTIFY=" ("NEVER" or e.g. "SUCCESS,FAILURE").
std::string FormatNotify(unsigned notify);

// The wire form of the parameters that are set, each after a space
// (" SIZE=10 BODY=8BITMIME"), for the client's MAIL FROM / RCPT TO. The
// client clears what the server did not offer before formatting.
std::string FormatMailParams(const MailParams& p);
std::string FormatRcptParams(const RcptParams& p);

}  // namespace postern::smtp
