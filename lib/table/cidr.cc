// table/cidr.cc — cidr_table(5) parsing and matching. As in Postfix, a rule
// with host bits set or a bad prefix is skipped with a warning, and a
// negated rule also matches addresses of the other family.
#include "postern/table/cidr.h"

#include <arpa/inet.h>

#include <cstring>

#include "postern/config/maincf.h"
#include "postern/util/strings.h"

namespace postern::table {

namespace {

constexpr size_t kMaxAddressText = 64;  // longer than any IPv6 text form

std::string_view StripBrackets(std::string_view s) {
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') return s.substr(1, s.size() - 2);
  return s;
}

bool HostBitsZero(const Network& n) {
  int bits = n.v6 ? 128 : 32;
  for (int i = n.prefix; i < bits; ++i)
    if (n.addr[i / 8] & (0x80 >> (i % 8))) return false;
  return true;
}

std::string NetworkText(const Network& n) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(n.v6 ? AF_INET6 : AF_INET, n.addr.data(), buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(n.prefix);
}

}  // namespace

std::optional<Network> ParseAddress(std::string_view text) {
  text = StripBrackets(text);
  if (text.empty() || text.size() > kMaxAddressText) return std::nullopt;
  std::string s(text);
  Network n;
  if (s.find(':') != std::string::npos) {
    if (inet_pton(AF_INET6, s.c_str(), n.addr.data()) != 1) return std::nullopt;
    n.v6 = true;
    n.prefix = 128;
  } else {
    if (inet_pton(AF_INET, s.c_str(), n.addr.data()) != 1) return std::nullopt;
    n.prefix = 32;
  }
  return n;
}

std::optional<Network> ParseNetwork(std::string_view text, std::string* why) {
  size_t slash = text.find('/');
  std::string_view addr = text.substr(0, slash);
  // "[2001:db8::]/32" and "[2001:db8::/32]" are both seen in the wild.
  std::string_view len_text;
  if (slash != std::string_view::npos) {
    len_text = text.substr(slash + 1);
    if (!addr.empty() && addr.front() == '[' && addr.back() != ']' && !len_text.empty() &&
        len_text.back() == ']') {
      addr.remove_prefix(1);
      len_text.remove_suffix(1);
    }
  }
  auto n = ParseAddress(addr);
  if (!n) {
    *why = "bad address pattern: \"" + std::string(text) + "\"";
    return std::nullopt;
  }
  if (slash != std::string_view::npos) {
    unsigned long long len = 0;
    int max = n->v6 ? 128 : 32;
    if (!ParseUnsigned(len_text, &len) || len > static_cast<unsigned>(max)) {
      *why = "bad net/mask pattern: \"" + std::string(text) + "\"";
      return std::nullopt;
    }
    n->prefix = static_cast<int>(len);
    if (!HostBitsZero(*n)) {
      Network fixed = *n;
      for (int i = fixed.prefix; i < max; ++i) fixed.addr[i / 8] &= ~(0x80 >> (i % 8));
      *why = "non-null host address bits in \"" + std::string(text) +
             "\", perhaps you should use \"" + NetworkText(fixed) + "\" instead";
      return std::nullopt;
    }
  }
  return n;
}

bool NetworkContains(const Network& net, const Network& host) {
  if (net.v6 != host.v6) return false;
  int full = net.prefix / 8;
  if (std::memcmp(net.addr.data(), host.addr.data(), full) != 0) return false;
  int rest = net.prefix % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (net.addr[full] & mask) == (host.addr[full] & mask);
}

CidrRules CidrRules::Parse(std::string_view text, std::string_view origin,
                           std::vector<std::string>* warnings) {
  CidrRules out;
  std::vector<size_t> open_ifs;
  auto lines = config::SplitLogicalLines(text, origin);
  if (!lines) {
    warnings->push_back(lines.error());
    return out;
  }
  for (const config::LogicalLine& l : *lines) {
    std::string where =
        "cidr map " + std::string(origin) + ", line " + std::to_string(l.line) + ": ";
    std::string_view s = l.text;
    size_t sp = 0;
    while (sp < s.size() && !IsSpace(s[sp])) ++sp;
    std::string_view pattern = s.substr(0, sp);
    std::string_view rest = Trim(s.substr(sp));
    Rule rule;
    if (EqualsIgnoreCase(pattern, "endif")) {
      if (open_ifs.empty()) {
        warnings->push_back(where + "ignoring ENDIF without matching IF");
        continue;
      }
      rule.kind = Kind::kEndif;
      out.rules_[open_ifs.back()].skip_to = out.rules_.size() + 1;
      open_ifs.pop_back();
      out.rules_.push_back(std::move(rule));
      continue;
    }
    if (EqualsIgnoreCase(pattern, "if")) {
      rule.kind = Kind::kIf;
      sp = 0;
      while (sp < rest.size() && !IsSpace(rest[sp])) ++sp;
      pattern = rest.substr(0, sp);
      if (!Trim(rest.substr(sp)).empty()) {
        warnings->push_back(where + "garbage after IF pattern, skipping this rule");
        continue;
      }
    } else if (rest.empty()) {
      warnings->push_back(where + "no lookup result for \"" + std::string(pattern) +
                          "\", skipping this rule");
      continue;
    }
    if (!pattern.empty() && pattern[0] == '!') {
      rule.negate = true;
      pattern.remove_prefix(1);
    }
    std::string why;
    auto net = ParseNetwork(pattern, &why);
    if (!net) {
      // An unusable IF still needs its ENDIF accounted for: it never matches.
      warnings->push_back(where + why + ", skipping this rule");
      if (rule.kind != Kind::kIf) continue;
      rule.net = Network{};
      rule.negate = false;
      rule.net.prefix = 129;  // impossible: NetworkContains never reaches it
    } else {
      rule.net = *net;
    }
    if (rule.kind == Kind::kIf) open_ifs.push_back(out.rules_.size());
    else rule.value = std::string(rest);
    out.rules_.push_back(std::move(rule));
  }
  for (size_t i : open_ifs) {
    warnings->push_back("cidr map " + std::string(origin) + ": IF has no matching ENDIF");
    out.rules_[i].skip_to = out.rules_.size();
  }
  return out;
}

std::optional<std::string> CidrRules::Match(std::string_view address) const {
  auto host = ParseAddress(address);
  if (!host) return std::nullopt;
  for (size_t i = 0; i < rules_.size();) {
    const Rule& r = rules_[i];
    if (r.kind == Kind::kEndif) {
      ++i;
      continue;
    }
    bool hit = r.net.prefix <= 128 && NetworkContains(r.net, *host);
    if (r.negate) hit = !hit;
    if (r.kind == Kind::kIf) {
      i = hit ? i + 1 : r.skip_to;
      continue;
    }
    if (hit) return r.value;
    ++i;
  }
  return std::nullopt;
}

}  // namespace postern::table
