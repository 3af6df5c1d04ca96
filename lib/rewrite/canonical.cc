// rewrite/canonical.cc — canonical maps, masquerading and their classes; see
// canonical.h (Postfix's cleanup_map11.c and cleanup_masq.c).
#include "postern/rewrite/canonical.h"

#include "postern/config/maincf.h"
#include "postern/log/log.h"
#include "postern/table/surrogate.h"
#include "postern/util/strings.h"

namespace postern::rewrite {

namespace {

constexpr int kMaxRounds = 10;  // Postfix's MAX_RECURSION in cleanup_map11

struct ClassName {
  const char* name;
  AddressClass bit;
};
constexpr ClassName kClassNames[] = {{"envelope_sender", kEnvelopeSender},
                                     {"envelope_recipient", kEnvelopeRecipient},
                                     {"header_sender", kHeaderSender},
                                     {"header_recipient", kHeaderRecipient}};

Result<unsigned> ClassesParam(const config::Config& cfg, const char* param) {
  auto names = cfg.GetList(param);
  if (!names) return Err(std::string(param) + ": " + names.error());
  auto mask = ParseClasses(*names);
  if (!mask) return Err(std::string(param) + ": " + mask.error());
  return *mask;
}

}  // namespace

Result<unsigned> ParseClasses(const std::vector<std::string>& names) {
  unsigned mask = 0;
  for (const std::string& n : names) {
    bool known = false;
    for (const ClassName& c : kClassNames) {
      if (EqualsIgnoreCase(n, c.name)) {
        mask |= c.bit;
        known = true;
      }
    }
    if (!known) return Err("unknown address class \"" + n + "\"");
  }
  return mask;
}

Result<AddressMap> AddressMap::FromConfig(const config::Config& cfg, const std::string& param,
                                          std::string_view propagate_class) {
  auto refs = cfg.GetTables(param);
  if (!refs) return Err(param + ": " + refs.error());
  // As Postfix: a table that does not open defers the mail that needs it.
  table::TableList maps = table::OpenListOrSurrogates(param, *refs);
  auto s = MapSettings::FromConfig(cfg, propagate_class);
  if (!s) return Err(s.error());
  return AddressMap(param, std::move(*s), std::move(maps));
}

Result<std::string> AddressMap::Map(std::string_view address) const {
  std::string cur(address);
  if (empty() || cur.empty()) return cur;
  for (int round = 0; round < kMaxRounds; ++round) {
    auto found = LookupAddressMap(*maps_, s_, cur);
    if (!found) return Err(name_ + ": " + found.error());
    if (!*found) return cur;
    if ((*found)->size() > 1)
      log::Warning("{}: multi-valued result for {}; using the first one", name_, cur);
    std::string next = (*found)->front();
    if (EqualsIgnoreCase(next, cur)) return next;
    cur = std::move(next);
  }
  log::Warning("{}: unreasonable recursion for {}; left as {}", name_, address, cur);
  return cur;
}

std::string Masquerade::Apply(std::string_view address) const {
  std::string_view user, domain;
  SplitAt(address, &user, &domain);
  if (domain.empty() || domains.empty()) return std::string(address);
  std::string lower_user = ToLower(user);
  for (const std::string& e : exceptions) {
    if (e == lower_user) return std::string(address);
  }
  for (std::string_view masq : domains) {
    bool excluded = !masq.empty() && masq.front() == '!';
    if (excluded) masq.remove_prefix(1);
    if (masq.empty()) continue;
    if (masq.size() == domain.size()) {
      if (EqualsIgnoreCase(masq, domain)) break;
    } else if (masq.size() < domain.size()) {
      std::string_view parent = domain.substr(domain.size() - masq.size());
      if (domain[domain.size() - masq.size() - 1] == '.' && EqualsIgnoreCase(masq, parent)) {
        if (excluded) break;
        return std::string(user) + "@" + std::string(masq);
      }
    }
  }
  return std::string(address);
}

Result<AddressRewriter> AddressRewriter::FromConfig(const config::Config& cfg) {
  Maps m;
  struct {
    const char* param;
    AddressMap* map;
    const char* classes;
    unsigned* mask;
  } maps[] = {{"canonical_maps", &m.canonical, "canonical_classes", &m.canonical_classes},
              {"sender_canonical_maps", &m.sender, "sender_canonical_classes", &m.sender_classes},
              {"recipient_canonical_maps", &m.recipient, "recipient_canonical_classes", &m.recipient_classes}};
  for (auto& p : maps) {
    auto map = AddressMap::FromConfig(cfg, p.param, "canonical");
    if (!map) return Err(map.error());
    *p.map = std::move(*map);
    auto mask = ClassesParam(cfg, p.classes);
    if (!mask) return Err(mask.error());
    *p.mask = *mask;
  }
  auto mask = ClassesParam(cfg, "masquerade_classes");
  if (!mask) return Err(mask.error());
  m.masquerade_classes = *mask;
  for (auto [param, out] : {std::pair{"masquerade_domains", &m.masquerade.domains},
                            std::pair{"masquerade_exceptions", &m.masquerade.exceptions}}) {
    auto list = cfg.GetList(param);
    if (!list) return Err(std::string(param) + ": " + list.error());
    for (const std::string& v : *list) out->push_back(ToLower(v));
  }
  return AddressRewriter(std::move(m));
}

bool AddressRewriter::Rewrites(AddressClass c) const {
  bool sender = c == kEnvelopeSender || c == kHeaderSender;
  return (!m_.canonical.empty() && (m_.canonical_classes & c)) ||
         (sender && !m_.sender.empty() && (m_.sender_classes & c)) ||
         (!sender && !m_.recipient.empty() && (m_.recipient_classes & c)) ||
         (!m_.masquerade.domains.empty() && (m_.masquerade_classes & c));
}

Result<std::string> AddressRewriter::Rewrite(std::string_view address, AddressClass c) const {
  std::string a(address);
  bool sender = c == kEnvelopeSender || c == kHeaderSender;
  const AddressMap& specific = sender ? m_.sender : m_.recipient;
  unsigned specific_classes = sender ? m_.sender_classes : m_.recipient_classes;
  for (auto [map, classes] : {std::pair{&specific, specific_classes}, std::pair{&m_.canonical, m_.canonical_classes}}) {
    if (map->empty() || !(classes & c)) continue;
    auto r = map->Map(a);
    if (!r) return r;
    a = std::move(*r);
  }
  if (m_.masquerade_classes & c) a = m_.masquerade.Apply(a);
  return a;
}

}  // namespace postern::rewrite
