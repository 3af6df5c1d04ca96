// sts/policy.cc — see policy.h.
#include "postern/sts/policy.h"

#include <charconv>

#include "postern/util/strings.h"

namespace postern::sts {

namespace {

constexpr std::string_view kModes[] = {"none", "testing", "enforce"};

bool IsAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// A host name or "*." and one: letters, digits, '-' and '.', no empty label.
bool ValidMx(std::string_view mx) {
  if (mx.starts_with("*.")) mx.remove_prefix(2);
  if (mx.empty() || mx.size() > 253 || mx.front() == '.' || mx.find("..") != std::string_view::npos) return false;
  for (char c : mx)
    if (!IsAlnum(c) && c != '-' && c != '.') return false;
  return true;
}

std::string NormalName(std::string_view s) {
  std::string out = ToLower(s);
  if (out.ends_with('.')) out.pop_back();
  return out;
}

}  // namespace

std::string_view ModeName(Mode m) { return kModes[size_t(m)]; }

Result<Policy> ParsePolicy(std::string_view text) {
  if (text.size() > kMaxPolicy) return Err("policy larger than 64 KiB");
  Policy p;
  bool version = false, mode = false, max_age = false;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    line = Trim(line);
    if (line.empty()) continue;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return Err("policy line without \":\"");
    std::string_view key = Trim(line.substr(0, colon)), value = Trim(line.substr(colon + 1));
    if (key == "version") {
      if (value != "STSv1") return Err("policy version is not STSv1");
      version = true;
    } else if (key == "mode" && !mode) {
      size_t i = 0;
      while (i < std::size(kModes) && value != kModes[i]) ++i;
      if (i == std::size(kModes)) return Err("policy mode is not enforce, testing or none");
      p.mode = Mode(i);
      mode = true;
    } else if (key == "mx") {
      if (!ValidMx(value)) return Err("policy mx \"" + std::string(value.substr(0, 64)) + "\" is not a host name");
      if (p.mx.size() >= 256) return Err("policy has more than 256 mx patterns");
      p.mx.push_back(NormalName(value));
    } else if (key == "max_age" && !max_age) {
      uint64_t n = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || value.size() > 10 || ec != std::errc() || ptr != value.data() + value.size())
        return Err("policy max_age is not a number");
      p.max_age = std::min(n, kMaxAge);
      max_age = true;
    }
  }
  if (!version) return Err("policy has no version");
  if (!mode) return Err("policy has no mode");
  if (!max_age) return Err("policy has no max_age");
  if (p.mode != Mode::kNone && p.mx.empty()) return Err("policy has no mx");
  return p;
}

Result<std::string> ParseTxtId(const std::vector<std::string>& records) {
  const std::string* found = nullptr;
  for (const std::string& r : records) {
    if (!r.starts_with("v=STSv1")) continue;
    std::string_view rest = std::string_view(r).substr(7);
    if (!rest.empty() && rest.front() != ';' && rest.front() != ' ' && rest.front() != '\t') continue;
    if (found) return Err("more than one v=STSv1 TXT record");
    found = &r;
  }
  if (!found) return Err("no v=STSv1 TXT record");
  std::string id;
  for (const std::string& field : SplitList(*found, ";")) {
    std::string_view f = Trim(field);
    if (!f.starts_with("id=")) continue;
    std::string_view v = f.substr(3);
    if (v.empty() || v.size() > 32) return Err("TXT record id is not 1 to 32 letters and digits");
    for (char c : v)
      if (!IsAlnum(c)) return Err("TXT record id is not 1 to 32 letters and digits");
    id = std::string(v);
    break;
  }
  if (id.empty()) return Err("TXT record without id");
  return id;
}

bool MxMatches(std::string_view pattern, std::string_view host) {
  std::string p = NormalName(pattern), h = NormalName(host);
  if (!p.starts_with("*.")) return p == h;
  std::string_view suffix = std::string_view(p).substr(1);  // ".example.net"
  if (h.size() <= suffix.size() || !h.ends_with(suffix)) return false;
  std::string_view label = std::string_view(h).substr(0, h.size() - suffix.size());
  return label.find('.') == std::string_view::npos;
}

bool MxAllowed(const Policy& p, std::string_view host) {
  for (const std::string& m : p.mx)
    if (MxMatches(m, host)) return true;
  return false;
}

std::string Encode(const Policy& p, std::string_view id) {
  std::string out = "id: " + std::string(id) + "\nversion: STSv1\nmode: " + std::string(ModeName(p.mode)) + "\n";
  for (const std::string& m : p.mx) out += "mx: " + m + "\n";
  out += "max_age: " + std::to_string(p.max_age) + "\n";
  return out;
}

Result<Policy> Decode(std::string_view stored, std::string* id) {
  if (!stored.starts_with("id: ")) return Err("cached MTA-STS policy without id");
  size_t nl = stored.find('\n');
  if (nl == std::string_view::npos) return Err("cached MTA-STS policy truncated");
  *id = std::string(stored.substr(4, nl - 4));
  return ParsePolicy(stored.substr(nl + 1));
}

std::string TlsPolicyText(const Policy& p) {
  std::string match;
  for (const std::string& m : p.mx) {
    if (!match.empty()) match += ':';
    // Postfix's ".domain" matches subdomains; MxAllowed keeps the one-label rule for MX names.
    match += m.starts_with("*.") ? m.substr(1) : m;
  }
  return "secure match=" + match + " servername=hostname";
}

}  // namespace postern::sts
