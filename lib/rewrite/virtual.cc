// rewrite/virtual.cc — virtual_alias_maps expansion; see virtual.h for the
// rules (Postfix's virtual(5) lookup order, recursion and expansion limits).
#include "postern/rewrite/virtual.h"

#include <algorithm>

#include "postern/config/maincf.h"
#include "postern/util/strings.h"

namespace postern::rewrite {

namespace {

bool SameAddress(std::string_view a, std::string_view b) { return EqualsIgnoreCase(a, b); }

// "user@domain" → user, domain (the last '@'); no '@' → the whole is the user.
void SplitAt(std::string_view address, std::string_view* user, std::string_view* domain) {
  size_t at = address.rfind('@');
  *user = at == std::string_view::npos ? address : address.substr(0, at);
  *domain = at == std::string_view::npos ? std::string_view() : address.substr(at + 1);
}

// Puts `delim ext` at the end of the local part of every result.
void Propagate(std::vector<std::string>* list, char delim, const std::string& ext) {
  for (std::string& a : *list) {
    size_t at = a.rfind('@');
    if (at == 0) continue;  // "@domain" has no local part to extend
    std::string suffix = std::string(1, delim) + ext;
    if (at == std::string::npos) {
      a += suffix;
    } else {
      a.insert(at, suffix);
    }
  }
}

}  // namespace

std::vector<std::string> SplitAddressList(std::string_view rhs) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  auto flush = [&] {
    std::string_view t = Trim(cur);
    if (t.size() >= 2 && t.front() == '<' && t.back() == '>') t = t.substr(1, t.size() - 2);
    if (!t.empty()) out.emplace_back(t);
    cur.clear();
  };
  for (size_t i = 0; i < rhs.size(); ++i) {
    char c = rhs[i];
    if (c == '"') {
      quoted = !quoted;
      cur += c;
    } else if (c == '\\' && quoted && i + 1 < rhs.size()) {
      cur += c;
      cur += rhs[++i];
    } else if (!quoted && (c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
      flush();
    } else {
      cur += c;
    }
  }
  flush();
  return out;
}

bool SplitExtension(std::string_view address, std::string_view delimiters, std::string* base,
                    std::string* ext, char* delim) {
  if (delimiters.empty()) return false;
  std::string_view user, domain;
  SplitAt(address, &user, &domain);
  size_t d = user.find_first_of(delimiters);
  // A delimiter at the start is part of the name (Postfix: "+foo" has no extension).
  if (d == std::string_view::npos || d == 0) return false;
  *delim = user[d];
  *ext = std::string(user.substr(d + 1));
  *base = std::string(user.substr(0, d));
  if (address.find('@') != std::string_view::npos) *base += "@" + std::string(domain);
  return true;
}

std::string OrcptFor(std::string_view address) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "rfc822;";
  for (unsigned char c : address) {
    if (c < 33 || c > 126 || c == '+' || c == '=') {
      out += '+';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += char(c);
    }
  }
  return out;
}

Result<VirtualAliases> VirtualAliases::FromConfig(const config::Config& cfg) {
  VirtualSettings s;
  auto refs = cfg.GetTables("virtual_alias_maps");
  if (!refs) return Err("virtual_alias_maps: " + refs.error());
  auto maps = table::TableList::Open(*refs);
  if (!maps) return Err("virtual_alias_maps: " + maps.error());
  auto delim = cfg.Get("recipient_delimiter");
  if (!delim) return Err(delim.error());
  s.recipient_delimiter = *delim;
  auto prop = cfg.GetList("propagate_unmatched_extensions");
  if (!prop) return Err("propagate_unmatched_extensions: " + prop.error());
  s.propagate_extension = std::find(prop->begin(), prop->end(), "virtual") != prop->end();
  auto origin = cfg.Get("myorigin");
  if (!origin) return Err(origin.error());
  s.local_domains.push_back(ToLower(*origin));
  auto dest = cfg.GetList("mydestination");
  if (!dest) return Err("mydestination: " + dest.error());
  for (const std::string& d : *dest) {
    if (d.find(':') == std::string::npos) s.local_domains.push_back(ToLower(d));
  }
  for (auto [name, field] : {std::pair{"virtual_alias_recursion_limit", &s.recursion_limit},
                             std::pair{"virtual_alias_expansion_limit", &s.expansion_limit}}) {
    auto v = cfg.GetInt(name);
    if (!v) return Err(std::string(name) + ": " + v.error());
    if (*v < 1) return Err(std::string(name) + ": must be at least 1");
    *field = static_cast<size_t>(*v);
  }
  return VirtualAliases(std::move(s), std::move(*maps));
}

bool VirtualAliases::LocalDomain(std::string_view domain) const {
  std::string d = ToLower(domain);
  return std::find(s_.local_domains.begin(), s_.local_domains.end(), d) != s_.local_domains.end();
}

// virtual(5): user+ext@domain, user@domain, then (local domains only)
// user+ext and user, then @domain.
Result<std::optional<std::vector<std::string>>> VirtualAliases::Lookup(const std::string& address) {
  std::string base, ext;
  char delim = 0;
  bool has_ext = SplitExtension(address, s_.recipient_delimiter, &base, &ext, &delim);
  std::string_view user, domain;
  SplitAt(address, &user, &domain);
  struct Key {
    std::string key;
    bool stripped;
  };
  std::vector<Key> keys{{address, false}};
  if (has_ext) keys.push_back({base, true});
  if (!domain.empty() && LocalDomain(domain)) {
    keys.push_back({std::string(user), false});
    if (has_ext) keys.push_back({base.substr(0, base.rfind('@')), true});
  }
  if (!domain.empty()) keys.push_back({"@" + std::string(domain), has_ext});
  for (const Key& k : keys) {
    // Pattern tables are asked only about the whole address (Postfix's PARTIAL keys).
    auto v = maps_.Lookup(k.key, &k != &keys.front());
    if (!v) return Err(v.error());
    if (!*v) continue;
    std::vector<std::string> list = SplitAddressList(**v);
    if (list.empty()) continue;
    if (k.stripped && s_.propagate_extension) Propagate(&list, delim, ext);
    return std::optional<std::vector<std::string>>(std::move(list));
  }
  return std::optional<std::vector<std::string>>();
}

Result<void> VirtualAliases::Walk(const std::string& address, size_t depth, std::vector<std::string>* stack,
                                  std::vector<std::string>* out) {
  auto keep = [&]() -> Result<void> {
    for (const std::string& o : *out) {
      if (SameAddress(o, address)) return {};
    }
    if (out->size() >= s_.expansion_limit)
      return Err("unreasonable virtual_alias_maps map expansion size for " + top_);
    out->push_back(address);
    return {};
  };
  // An address already being expanded closes a loop: it is delivered as it is.
  for (const std::string& s : *stack) {
    if (SameAddress(s, address)) return keep();
  }
  if (depth > s_.recursion_limit)
    return Err("unreasonable virtual_alias_maps map nesting for " + top_);
  auto found = Lookup(address);
  if (!found) return Err(found.error());
  if (!*found) return keep();
  stack->push_back(address);
  for (const std::string& next : **found) {
    Result<void> r = SameAddress(next, address) ? keep() : Walk(next, depth + 1, stack, out);
    if (!r) return r;
  }
  stack->pop_back();
  return {};
}

Result<std::vector<std::string>> VirtualAliases::Expand(std::string_view address) {
  std::vector<std::string> out;
  if (maps_.empty()) {
    out.emplace_back(address);
    return out;
  }
  std::vector<std::string> stack;
  top_ = std::string(address);
  if (auto r = Walk(top_, 0, &stack, &out); !r) return Err(r.error());
  return out;
}

}  // namespace postern::rewrite
