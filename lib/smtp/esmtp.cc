// smtp/esmtp.cc — ESMTP parameter and xtext parsing; see esmtp.h.
#include "postern/smtp/esmtp.h"

#include "postern/smtp/address.h"
#include "postern/util/strings.h"

namespace postern::smtp {
namespace {

constexpr bool IsKeyChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

bool IsValidKey(std::string_view k) {
  if (k.empty() || k.front() == '-') return false;
  for (unsigned char c : k)
    if (!IsKeyChar(c)) return false;
  return true;
}

// esmtp-value: octets 33..126 except '=', plus UTF-8 (RFC 6531).
bool IsValidValue(std::string_view v) {
  if (v.empty()) return false;
  bool high = false;
  for (unsigned char c : v) {
    if (c >= 0x80) high = true;
    else if (c < 33 || c > 126 || c == '=') return false;
  }
  return !high || IsValidUtf8(v);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

ParamStatus Fail(ParamError e, std::string text) { return ParamStatus{e, std::move(text)}; }

ParamStatus ApplyMailParam(const EsmtpParam& p, MailParams* out) {
  auto is = [&](std::string_view k) { return EqualsIgnoreCase(p.key, k); };
  auto val = [&](std::string_view v) { return EqualsIgnoreCase(p.value, v); };
  if (is("SIZE")) {
    unsigned long long n = 0;
    if (!p.has_value || p.value.size() > 20 || !ParseUnsigned(p.value, &n))
      return Fail(ParamError::kSyntax, "Bad SIZE syntax");
    out->size = n;
  } else if (is("BODY")) {
    if (val("7BIT")) out->body = Body::k7Bit;
    else if (val("8BITMIME")) out->body = Body::k8BitMime;
    else if (val("BINARYMIME")) out->body = Body::kBinaryMime;
    else return Fail(ParamError::kSyntax, "Unsupported BODY parameter value");
  } else if (is("SMTPUTF8")) {
    if (p.has_value) return Fail(ParamError::kSyntax, "Bad SMTPUTF8 syntax");
    out->smtputf8 = true;
  } else if (is("RET")) {
    if (val("FULL")) out->ret = Ret::kFull;
    else if (val("HDRS")) out->ret = Ret::kHdrs;
    else return Fail(ParamError::kSyntax, "Bad RET parameter syntax");
  } else if (is("ENVID")) {
    auto d = XtextDecode(p.value);
    if (!p.has_value || p.value.size() > kMaxEnvid || !d)
      return Fail(ParamError::kSyntax, "Bad ENVID parameter syntax");
    out->envid = std::move(*d);
  } else if (is("AUTH")) {
    auto d = XtextDecode(p.value);
    if (!p.has_value || !d || d->size() > kMaxPath)
      return Fail(ParamError::kSyntax, "Bad AUTH parameter syntax");
    out->auth = std::move(*d);
  } else {
    return Fail(ParamError::kUnsupported, "Unsupported option: " + std::string(p.key));
  }
  return {};
}

Result<unsigned> ParseNotify(std::string_view v) {
  unsigned flags = 0;
  for (const auto& word : SplitList(v, ",")) {
    unsigned f;
    if (EqualsIgnoreCase(word, "NEVER")) f = kNotifyNever;
    else if (EqualsIgnoreCase(word, "SUCCESS")) f = kNotifySuccess;
    else if (EqualsIgnoreCase(word, "FAILURE")) f = kNotifyFailure;
    else if (EqualsIgnoreCase(word, "DELAY")) f = kNotifyDelay;
    else return Err("bad NOTIFY keyword");
    if (flags & f) return Err("repeated NOTIFY keyword");
    flags |= f;
  }
  // RFC 3461 §4.1: NEVER stands alone; an empty list is not a value.
  if (flags == 0 || ((flags & kNotifyNever) && flags != kNotifyNever))
    return Err("bad NOTIFY combination");
  return flags;
}

ParamStatus ApplyRcptParam(const EsmtpParam& p, RcptParams* out) {
  if (EqualsIgnoreCase(p.key, "NOTIFY")) {
    auto n = ParseNotify(p.value);
    if (!p.has_value || !n) return Fail(ParamError::kSyntax, "Bad NOTIFY parameter syntax");
    out->notify = *n;
  } else if (EqualsIgnoreCase(p.key, "ORCPT")) {
    size_t semi = p.value.find(';');
    if (!p.has_value || p.value.size() > kMaxOrcpt || semi == std::string_view::npos || semi == 0)
      return Fail(ParamError::kSyntax, "Bad ORCPT parameter syntax");
    std::string_view type = p.value.substr(0, semi);
    for (unsigned char c : type)
      if (!IsKeyChar(c)) return Fail(ParamError::kSyntax, "Bad ORCPT parameter syntax");
    auto d = XtextDecode(p.value.substr(semi + 1));
    if (!d || d->empty()) return Fail(ParamError::kSyntax, "Bad ORCPT parameter syntax");
    out->orcpt_type.assign(type);
    out->orcpt = std::move(*d);
  } else {
    return Fail(ParamError::kUnsupported, "Unsupported option: " + std::string(p.key));
  }
  return {};
}

}  // namespace

Result<std::vector<EsmtpParam>> SplitParams(std::string_view s, size_t max_params) {
  std::vector<EsmtpParam> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    if (i == s.size()) break;
    size_t end = i;
    while (end < s.size() && s[end] != ' ' && s[end] != '\t') ++end;
    std::string_view tok = s.substr(i, end - i);
    i = end;
    EsmtpParam p;
    size_t eq = tok.find('=');
    p.key = tok.substr(0, eq);
    if (eq != std::string_view::npos) {
      p.value = tok.substr(eq + 1);
      p.has_value = true;
      if (!IsValidValue(p.value)) return Err("Bad parameter value syntax");
    }
    if (!IsValidKey(p.key)) return Err("Bad parameter syntax");
    for (const auto& q : out)
      if (EqualsIgnoreCase(q.key, p.key)) return Err("Duplicate parameter: " + std::string(p.key));
    if (out.size() == max_params) return Err("Too many parameters");
    out.push_back(p);
  }
  return out;
}

ParamStatus ParseMailParams(std::string_view s, MailParams* out) {
  *out = MailParams{};
  auto list = SplitParams(s);
  if (!list) return Fail(ParamError::kSyntax, list.error());
  for (const auto& p : *list)
    if (auto st = ApplyMailParam(p, out); !st.ok()) return st;
  return {};
}

ParamStatus ParseRcptParams(std::string_view s, RcptParams* out) {
  *out = RcptParams{};
  auto list = SplitParams(s);
  if (!list) return Fail(ParamError::kSyntax, list.error());
  for (const auto& p : *list)
    if (auto st = ApplyRcptParam(p, out); !st.ok()) return st;
  return {};
}

std::string XtextEncode(std::string_view raw) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(raw.size());
  for (unsigned char c : raw) {
    if (c >= 33 && c <= 126 && c != '+' && c != '=') {
      out.push_back(char(c));
    } else {
      out.push_back('+');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

Result<std::string> XtextDecode(std::string_view x) {
  std::string out;
  out.reserve(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    unsigned char c = x[i];
    if (c == '+') {
      if (x.size() - i < 3) return Err("truncated xtext escape");
      int hi = HexValue(x[i + 1]), lo = HexValue(x[i + 2]);
      if (hi < 0 || lo < 0) return Err("bad xtext escape");
      out.push_back(char(hi * 16 + lo));
      i += 2;
    } else if (c < 33 || c > 126 || c == '=') {
      return Err("bad xtext character");
    } else {
      out.push_back(char(c));
    }
  }
  return out;
}

std::string FormatNotify(unsigned notify) {
  if (notify & kNotifyNever) return "NEVER";
  std::string out;
  auto add = [&](unsigned f, const char* name) {
    if (!(notify & f)) return;
    if (!out.empty()) out.push_back(',');
    out += name;
  };
  add(kNotifySuccess, "SUCCESS");
  add(kNotifyFailure, "FAILURE");
  add(kNotifyDelay, "DELAY");
  return out;
}

std::string FormatMailParams(const MailParams& p) {
  std::string out;
  if (p.size) out += " SIZE=" + std::to_string(*p.size);
  switch (p.body) {
    case Body::k7Bit: out += " BODY=7BIT"; break;
    case Body::k8BitMime: out += " BODY=8BITMIME"; break;
    case Body::kBinaryMime: out += " BODY=BINARYMIME"; break;
    case Body::kUnspecified: break;
  }
  if (p.smtputf8) out += " SMTPUTF8";
  if (p.ret == Ret::kFull) out += " RET=FULL";
  if (p.ret == Ret::kHdrs) out += " RET=HDRS";
  if (p.envid) out += " ENVID=" + XtextEncode(*p.envid);
  if (p.auth) out += " AUTH=" + XtextEncode(*p.auth);
  return out;
}

std::string FormatRcptParams(const RcptParams& p) {
  std::string out;
  if (p.notify) out += " NOTIFY=" + FormatNotify(p.notify);
  if (p.orcpt) {
    out += " ORCPT=";
    out += p.orcpt_type.empty() ? std::string("rfc822") : p.orcpt_type;
    out += ";" + XtextEncode(*p.orcpt);
  }
  return out;
}

}  // namespace postern::smtp
