// rewrite/lookup.cc — Postfix's address map search order; see lookup.h.
#include "postern/rewrite/lookup.h"

#include <algorithm>

#include "postern/config/maincf.h"
#include "postern/util/strings.h"

namespace postern::rewrite {

namespace {

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

void SplitAt(std::string_view address, std::string_view* user, std::string_view* domain) {
  size_t at = address.rfind('@');
  *user = at == std::string_view::npos ? address : address.substr(0, at);
  *domain = at == std::string_view::npos ? std::string_view() : address.substr(at + 1);
}

Result<MapSettings> MapSettings::FromConfig(const config::Config& cfg, std::string_view propagate_class) {
  MapSettings s;
  auto delim = cfg.Get("recipient_delimiter");
  if (!delim) return Err(delim.error());
  s.recipient_delimiter = *delim;
  auto prop = cfg.GetList("propagate_unmatched_extensions");
  if (!prop) return Err("propagate_unmatched_extensions: " + prop.error());
  s.propagate_extension = std::find(prop->begin(), prop->end(), propagate_class) != prop->end();
  auto origin = cfg.Get("myorigin");
  if (!origin) return Err(origin.error());
  s.local_domains.push_back(ToLower(*origin));
  auto dest = cfg.GetList("mydestination");
  if (!dest) return Err("mydestination: " + dest.error());
  for (const std::string& d : *dest) {
    if (d.find(':') == std::string::npos) s.local_domains.push_back(ToLower(d));
  }
  return s;
}

bool MapSettings::LocalDomain(std::string_view domain) const {
  std::string d = ToLower(domain);
  return std::find(local_domains.begin(), local_domains.end(), d) != local_domains.end();
}

Result<std::optional<std::vector<std::string>>> LookupAddressMap(table::TableList& maps, const MapSettings& s,
                                                                 std::string_view address) {
  std::string base, ext;
  char delim = 0;
  bool has_ext = SplitExtension(address, s.recipient_delimiter, &base, &ext, &delim);
  std::string_view user, domain;
  SplitAt(address, &user, &domain);
  struct Key {
    std::string key;
    bool stripped;
  };
  std::vector<Key> keys{{std::string(address), false}};
  if (has_ext) keys.push_back({base, true});
  if (!domain.empty() && s.LocalDomain(domain)) {
    keys.push_back({std::string(user), false});
    if (has_ext) keys.push_back({base.substr(0, base.rfind('@')), true});
  }
  if (!domain.empty()) keys.push_back({"@" + std::string(domain), has_ext});
  std::string_view bare_user = has_ext ? std::string_view(base).substr(0, base.rfind('@')) : user;
  for (const Key& k : keys) {
    // Pattern tables are asked only about the whole address (Postfix's PARTIAL keys).
    auto v = maps.Lookup(k.key, &k != &keys.front());
    if (!v) return Err(v.error());
    if (!*v) continue;
    std::vector<std::string> list = SplitAddressList(**v);
    if (list.empty()) continue;
    // mail_addr_map: a result "@domain" takes the local part of the input.
    for (std::string& a : list) {
      if (a.front() == '@') a = std::string(k.stripped ? bare_user : user) + a;
    }
    if (k.stripped && s.propagate_extension) Propagate(&list, delim, ext);
    return std::optional<std::vector<std::string>>(std::move(list));
  }
  return std::optional<std::vector<std::string>>();
}

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

}  // namespace postern::rewrite
