// smtp/address.cc — RFC 5321 path and mailbox parsing; see address.h.
#include "postern/smtp/address.h"

#include <arpa/inet.h>

#include "postern/util/strings.h"

namespace postern::smtp {
namespace {

constexpr bool IsAlnum(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// RFC 5322 atext (RFC 6531 adds UTF-8, checked separately as a whole).
constexpr bool IsAtext(unsigned char c) {
  if (IsAlnum(c) || c >= 0x80) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*':
    case '+': case '-': case '/': case '=': case '?': case '^': case '_':
    case '`': case '{': case '|': case '}': case '~':
      return true;
    default:
      return false;
  }
}

bool HasNonAscii(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return true;
  return false;
}

// Dot-string: atoms separated by single dots. When at_ok, '@' may separate
// atoms too (the user@site@relay form Postfix accepts and then treats as
// sender-specified routing).
bool IsDotString(std::string_view s, bool at_ok) {
  auto sep = [at_ok](char c) { return c == '.' || (at_ok && c == '@'); };
  if (s.empty() || sep(s.front()) || sep(s.back())) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = s[i];
    if (sep(c)) {
      if (sep(s[i - 1])) return false;
    } else if (!IsAtext(c)) {
      return false;
    }
  }
  return true;
}

// Decodes a quoted string (with its quotes) into *out; false on bad syntax.
bool DecodeQuoted(std::string_view s, std::string* out) {
  if (s.size() < 2 || s.front() != '"' || s.back() != '"') return false;
  out->clear();
  for (size_t i = 1; i + 1 < s.size(); ++i) {
    unsigned char c = s[i];
    if (c == '\\') {
      if (i + 2 >= s.size()) return false;  // the backslash would eat the closing quote
      unsigned char e = s[++i];
      if ((e < 32 || e > 126) && e < 0x80) return false;
      out->push_back(char(e));
    } else if (c == '"' || (c < 32) || c == 127) {
      return false;
    } else {
      out->push_back(char(c));
    }
  }
  return true;
}

// Index of the '@' separating local part and domain: the last one outside a
// quoted string. npos when there is none.
size_t FindDomainAt(std::string_view s) {
  size_t at = std::string_view::npos;
  bool quoted = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quoted && c == '\\') {
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == '@' && !quoted) {
      at = i;
    }
  }
  return at;
}

Result<void> CheckUtf8(std::string_view s, const PathOptions& opt, bool* utf8) {
  if (!HasNonAscii(s)) return {};
  if (!opt.smtputf8) return Err("non-ASCII address requires SMTPUTF8");
  if (!IsValidUtf8(s)) return Err("malformed UTF-8 in address");
  *utf8 = true;
  return {};
}

Result<void> ParseLocal(std::string_view wire, Address* a) {
  if (wire.empty()) return Err("empty local part");
  if (wire.size() > kMaxLocalPart) return Err("local part too long");
  if (wire.front() == '"') {
    if (!DecodeQuoted(wire, &a->local)) return Err("bad quoted local part");
    return {};
  }
  if (!IsDotString(wire, true)) return Err("bad local part syntax");
  a->local.assign(wire);
  return {};
}

bool IsDomainOrLiteral(std::string_view d, bool utf8) {
  return !d.empty() && (d.front() == '[' ? IsValidAddressLiteral(d) : IsValidDomain(d, utf8));
}

// Drops "@a,@b:" (RFC 5321 A-d-l) after checking each hop's syntax.
Result<std::string_view> DropSourceRoute(std::string_view s, bool utf8) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos) return Err("bad source route");
  std::string_view route = s.substr(0, colon);
  while (!route.empty()) {
    size_t comma = route.find(',');
    std::string_view hop = route.substr(0, comma);
    if (hop.size() < 2 || hop.front() != '@' || !IsValidDomain(hop.substr(1), utf8))
      return Err("bad source route");
    route = comma == std::string_view::npos ? std::string_view() : route.substr(comma + 1);
    if (comma != std::string_view::npos && route.empty()) return Err("bad source route");
  }
  return s.substr(colon + 1);
}

}  // namespace

bool IsValidDomain(std::string_view d, bool utf8) {
  if (d.empty() || d.size() > kMaxDomain) return false;
  size_t start = 0;
  while (start <= d.size()) {
    size_t dot = d.find('.', start);
    if (dot == std::string_view::npos) dot = d.size();
    std::string_view label = d.substr(start, dot - start);
    if (label.empty() || label.size() > kMaxLabel) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (unsigned char c : label)
      if (!IsAlnum(c) && c != '-' && !(utf8 && c >= 0x80)) return false;
    start = dot + 1;
  }
  return !utf8 || IsValidUtf8(d);
}

bool IsValidAddressLiteral(std::string_view lit) {
  if (lit.size() < 3 || lit.size() > kMaxDomain || lit.front() != '[' || lit.back() != ']')
    return false;
  std::string_view inner = lit.substr(1, lit.size() - 2);
  unsigned char buf[16];
  if (inner.size() > 5 && EqualsIgnoreCase(inner.substr(0, 5), "IPv6:")) {
    std::string s(inner.substr(5));
    if (s.size() > 45) return false;  // INET6_ADDRSTRLEN - 1
    return inet_pton(AF_INET6, s.c_str(), buf) == 1;
  }
  if (inner.size() > 15) return false;
  std::string s(inner);
  return inet_pton(AF_INET, s.c_str(), buf) == 1;
}

std::string QuoteLocalPart(std::string_view local) {
  if (IsDotString(local, false)) return std::string(local);
  std::string out;
  out.reserve(local.size() + 4);
  out.push_back('"');
  for (char c : local) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

bool HasRoutingChars(std::string_view local) {
  return local.find_first_of("%!@") != std::string_view::npos;
}

std::string Address::Canonical() const {
  if (null) return {};
  std::string out = QuoteLocalPart(local);
  if (!domain.empty()) {
    out.push_back('@');
    out += domain;
  }
  return out;
}

Result<Address> ParseMailbox(std::string_view s, const PathOptions& opt) {
  Address a;
  if (s.size() > kMaxMailbox) return Err("address too long");
  if (auto r = CheckUtf8(s, opt, &a.utf8); !r) return Err(r.error());
  size_t at = FindDomainAt(s);
  if (at == std::string_view::npos) {
    if (auto r = ParseLocal(s, &a); !r) return Err(r.error());
    if (!opt.allow_bare_local && !EqualsIgnoreCase(a.local, "postmaster"))
      return Err("address lacks a domain");
    if (a.Canonical().size() > kMaxLocalPart) return Err("local part too long");
    return a;
  }
  if (auto r = ParseLocal(s.substr(0, at), &a); !r) return Err(r.error());
  std::string_view domain = s.substr(at + 1);
  if (domain.empty()) return Err("empty domain");
  if (!IsDomainOrLiteral(domain, a.utf8)) return Err("bad domain syntax");
  a.domain.assign(domain);
  // The canonical form may need quotes the client left out (user@site@relay);
  // it too must fit, or it could not be used in a later SMTP session.
  std::string canon = a.Canonical();
  if (canon.size() > kMaxMailbox || canon.size() - a.domain.size() - 1 > kMaxLocalPart)
    return Err("address too long");
  return a;
}

Result<Address> ParsePath(std::string_view path, const PathOptions& opt) {
  if (path.size() > kMaxPath) return Err("path too long");
  std::string_view inner = path;
  if (!path.empty() && path.front() == '<') {
    if (path.size() < 2 || path.back() != '>') return Err("unterminated <address>");
    inner = path.substr(1, path.size() - 2);
  }
  if (inner.empty()) {
    if (!opt.allow_null) return Err("null address not allowed");
    Address a;
    a.null = true;
    return a;
  }
  bool routed = inner.front() == '@';
  if (routed) {
    auto rest = DropSourceRoute(inner, opt.smtputf8);
    if (!rest) return Err(rest.error());
    inner = *rest;
    if (inner.empty()) return Err("empty address after source route");
  }
  auto a = ParseMailbox(inner, opt);
  if (a) a->source_route = routed;
  return a;
}

}  // namespace postern::smtp
