// ctl/spf_record.cc — SPF term parsing for `postern spf walk`; see spf_record.h.
#include "ctl/spf_record.h"

#include "postern/util/strings.h"

namespace postern::ctl::spf {

namespace {

constexpr size_t kMaxRecord = 4096;

bool ParseLen(std::string_view s, int max, int* out) {
  unsigned long long n = 0;
  if (!ParseUnsigned(s, &n) || n > static_cast<unsigned long long>(max)) return false;
  *out = int(n);
  return true;
}

// "domain/24//64", "/24", "//64", "domain" → the domain and lengths.
bool SplitCidr(std::string_view spec, Term* t) {
  auto slash = spec.find('/');
  t->arg = std::string(spec.substr(0, slash));
  if (slash == std::string_view::npos) return true;
  std::string_view rest = spec.substr(slash);  // "/24", "/24//64", "//64"
  auto dual = rest.find("//");
  std::string_view v4 = dual == std::string_view::npos ? rest : rest.substr(0, dual);
  if (!v4.empty() && !ParseLen(v4.substr(1), 32, &t->cidr4)) return false;
  if (dual != std::string_view::npos && !ParseLen(rest.substr(dual + 2), 128, &t->cidr6)) return false;
  return true;
}

}  // namespace

bool IsSpf1(std::string_view txt) {
  return txt.size() >= 6 && EqualsIgnoreCase(txt.substr(0, 6), "v=spf1") && (txt.size() == 6 || txt[6] == ' ');
}

std::optional<std::vector<Term>> Parse(std::string_view record) {
  if (record.size() > kMaxRecord || !IsSpf1(record)) return std::nullopt;
  std::vector<Term> out;
  std::string_view rest = record.substr(6);
  while (!rest.empty()) {
    auto sp = rest.find(' ');
    std::string_view word = rest.substr(0, sp);
    rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
    if (word.empty()) continue;
    Term t;
    if (word[0] == '+' || word[0] == '-' || word[0] == '~' || word[0] == '?') {
      t.qualifier = word[0];
      word.remove_prefix(1);
    }
    auto cut = word.find_first_of(":=/");
    std::string_view name = word.substr(0, cut);
    std::string_view arg = cut == std::string_view::npos ? std::string_view() : word.substr(cut);
    bool colon = !arg.empty() && arg[0] == ':';
    if (EqualsIgnoreCase(name, "ip4") || EqualsIgnoreCase(name, "ip6")) {
      if (!colon || arg.size() < 2) return std::nullopt;
      t.kind = EqualsIgnoreCase(name, "ip4") ? Kind::kIp4 : Kind::kIp6;
      t.arg = std::string(arg.substr(1));
    } else if (EqualsIgnoreCase(name, "a") || EqualsIgnoreCase(name, "mx")) {
      t.kind = EqualsIgnoreCase(name, "a") ? Kind::kA : Kind::kMx;
      if (colon && arg.size() < 2) return std::nullopt;
      if (!arg.empty() && !colon && arg[0] != '/') return std::nullopt;
      if (!SplitCidr(colon ? arg.substr(1) : arg, &t)) return std::nullopt;
      if (colon && t.arg.empty()) return std::nullopt;
    } else if (EqualsIgnoreCase(name, "include")) {
      if (!colon || arg.size() < 2) return std::nullopt;
      t.kind = Kind::kInclude;
      t.arg = std::string(arg.substr(1));
    } else if (EqualsIgnoreCase(name, "redirect")) {
      if (arg.size() < 2 || arg[0] != '=') return std::nullopt;
      t.kind = Kind::kRedirect;
      t.arg = std::string(arg.substr(1));
    } else {
      t.arg = std::string(word);  // all, ptr, exists, exp=, unknown modifiers
    }
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace postern::ctl::spf
