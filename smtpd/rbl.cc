// smtpd/rbl.cc — DNS list sites, query names and reply templates as Postfix
// has them (smtpd_check.c, mac_expand); see rbl.h.
#include "smtpd/rbl.h"

#include <cctype>

#include "postern/dns/address.h"
#include "postern/smtp/reply.h"
#include "postern/util/strings.h"

namespace postern::smtpd {

namespace {

constexpr size_t kMaxName = 253;

// Fields between separators outside brackets, empty ones kept:
// "127.0.0.[2..4]" is four octets.
std::vector<std::string_view> Fields(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0, depth = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i < s.size() && s[i] == '[') ++depth;
    if (i < s.size() && s[i] == ']' && depth) --depth;
    if (i == s.size() || (s[i] == sep && depth == 0)) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

bool ParseOctet(std::string_view s, unsigned* out) {
  unsigned long long v = 0;
  if (s.empty() || s.size() > 3 || !ParseUnsigned(s, &v) || v > 255) return false;
  *out = unsigned(v);
  return true;
}

// One filter octet: "N", "[N..M]" or "[N;M..K;...]".
bool ParseOctetSet(std::string_view s, std::bitset<256>* out) {
  if (s.size() < 2 || s.front() != '[' || s.back() != ']') {
    unsigned v;
    if (!ParseOctet(s, &v)) return false;
    out->set(v);
    return true;
  }
  for (std::string_view item : Fields(s.substr(1, s.size() - 2), ';')) {
    size_t dots = item.find("..");
    unsigned lo, hi;
    if (!ParseOctet(item.substr(0, dots), &lo)) return false;
    hi = lo;
    if (dots != std::string_view::npos && (!ParseOctet(item.substr(dots + 2), &hi) || hi < lo)) return false;
    for (unsigned v = lo; v <= hi; ++v) out->set(v);
  }
  return true;
}

}  // namespace

Result<RblSite> RblSite::Parse(std::string_view spec) {
  RblSite site;
  site.spec_ = std::string(spec);
  size_t eq = spec.find('=');
  site.domain_ = ToLower(spec.substr(0, eq));
  while (!site.domain_.empty() && site.domain_.back() == '.') site.domain_.pop_back();
  if (site.domain_.empty() || site.domain_.size() > kMaxName)
    return Err("\"" + std::string(spec) + "\": no DNS list domain");
  if (eq == std::string_view::npos) return site;
  std::string_view filter = spec.substr(eq + 1);
  auto octets = Fields(filter, '.');
  if (octets.size() != 4) return Err("\"" + std::string(spec) + "\": the result filter is not d.d.d.d");
  site.filter_.emplace();
  for (size_t i = 0; i < 4; ++i)
    if (!ParseOctetSet(octets[i], &(*site.filter_)[i]))
      return Err("\"" + std::string(spec) + "\": bad result filter octet \"" + std::string(octets[i]) + "\"");
  return site;
}

bool RblSite::Listed(const std::vector<std::string>& addresses) const {
  for (const std::string& a : addresses) {
    auto ip = dns::IpAddress::Parse(a);
    if (!ip || !ip->is_v4()) continue;  // list answers are IPv4 by convention
    if (!filter_) return true;
    bool match = true;
    for (size_t i = 0; i < 4 && match; ++i) match = (*filter_)[i].test(ip->bytes()[i]);
    if (match) return true;
  }
  return false;
}

std::optional<std::string> RblAddressQuery(std::string_view address, std::string_view domain) {
  auto ip = dns::IpAddress::Parse(address);
  if (!ip) return std::nullopt;
  std::string rev = ip->ReverseName();  // "4.3.2.1.in-addr.arpa"
  std::string_view suffix = ip->is_v4() ? ".in-addr.arpa" : ".ip6.arpa";
  rev.resize(rev.size() - suffix.size());
  return rev + "." + std::string(domain);
}

std::optional<std::string> RhsblQuery(std::string_view name, std::string_view domain) {
  while (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.front() == '[' || EqualsIgnoreCase(name, "unknown")) return std::nullopt;
  std::string q = ToLower(name) + "." + std::string(domain);
  if (q.size() > kMaxName) return std::nullopt;
  return q;
}

std::string ExpandTemplate(std::string_view t, const MacroLookup& lookup) {
  std::string out;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] != '$' || i + 1 == t.size()) {
      out += t[i];
      continue;
    }
    char next = t[i + 1];
    if (next == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (next == '{') {
      // ${name}, ${name?text}, ${name:text}; text may hold more macros and braces.
      size_t depth = 1, j = i + 2;
      for (; j < t.size() && depth; ++j) depth += t[j] == '{' ? 1 : t[j] == '}' ? -1 : 0;
      if (depth) {  // unbalanced: kept as written
        out += t.substr(i);
        break;
      }
      std::string_view body = t.substr(i + 2, j - i - 3);
      size_t op = body.find_first_of("?:");
      std::string value = lookup(body.substr(0, op)).value_or("");
      if (op == std::string_view::npos) out += value;
      else if ((body[op] == '?') == !value.empty()) out += ExpandTemplate(body.substr(op + 1), lookup);
      i = j - 1;
      continue;
    }
    size_t j = i + 1;
    while (j < t.size() && (std::isalnum(static_cast<unsigned char>(t[j])) || t[j] == '_')) ++j;
    if (j == i + 1) {
      out += '$';
      continue;
    }
    out += lookup(t.substr(i + 1, j - i - 1)).value_or("");
    i = j - 1;
  }
  return out;
}

std::optional<ParsedReply> ParseReplyText(std::string_view reply) {
  reply = Trim(reply);
  unsigned long long code = 0;
  if (reply.size() < 3 || !ParseUnsigned(reply.substr(0, 3), &code) || code < 400 || code > 599) return std::nullopt;
  if (reply.size() > 3 && reply[3] != ' ' && reply[3] != '\t') return std::nullopt;
  ParsedReply r;
  r.code = int(code);
  std::string_view rest = reply.size() > 3 ? Trim(reply.substr(4)) : std::string_view();
  size_t sp = rest.find_first_of(" \t");
  std::string_view first = rest.substr(0, sp);
  if (smtp::IsEnhancedStatus(first) && first[0] == reply[0]) {
    r.enhanced = std::string(first);
    rest = sp == std::string_view::npos ? std::string_view() : Trim(rest.substr(sp));
  } else {
    r.enhanced = code < 500 ? "4.7.1" : "5.7.1";
  }
  r.text = std::string(rest);
  return r;
}

}  // namespace postern::smtpd
