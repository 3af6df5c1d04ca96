// route/destinations.cc — mydestination, the virtual domains, relay_domains
// and our own address literals, matched as Postfix's resolve and match_list do.
#include "postern/route/destinations.h"

#include <algorithm>
#include <utility>

#include "postern/config/maincf.h"
#include "postern/util/strings.h"

namespace postern::route {

namespace {

bool IsTableRef(std::string_view entry) {
  size_t colon = entry.find(':');
  return colon != std::string_view::npos && colon > 0 && entry[0] != '[' && entry.find('/') != 0;
}

// Postfix strips one trailing dot; "example.." stays invalid (not ours).
std::string StripOneDot(std::string_view d) {
  std::string s = ToLower(d);
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// An IPv4 or IPv6 address where a host name belongs (Postfix's valid_hostaddr).
bool IsNumeric(std::string_view d) { return !d.empty() && dns::IpAddress::Parse(d).has_value(); }

}  // namespace

Result<Destinations::DomainList> Destinations::MakeList(const std::vector<std::string>& entries, bool parents) {
  DomainList l;
  l.parents = parents;
  for (const std::string& e : entries) {
    if (IsTableRef(e)) {
      auto t = table::Open(e);
      if (!t) return Err(t.error());
      l.tables.Add(std::move(*t));
    } else {
      std::string d = ToLower(e);
      while (!d.empty() && d.back() == '.') d.pop_back();
      if (!d.empty()) l.names.push_back(std::move(d));
    }
  }
  return l;
}

// Postfix's match_list for domains: an exact name, a ".parent" entry, or —
// where parent_domain_matches_subdomains applies (relay_domains) — a parent
// name; tables are asked for the domain and, likewise, its parents.
Result<bool> Destinations::Matches(DomainList& list, std::string_view domain) {
  auto matches_name = [&](std::string_view name) {
    return std::find(list.names.begin(), list.names.end(), name) != list.names.end();
  };
  if (matches_name(domain)) return true;
  if (!list.tables.empty()) {
    auto hit = list.tables.Lookup(domain);
    if (!hit) return Err(hit.error());
    if (*hit) return true;
  }
  if (domain.front() == '[') return false;  // a literal has no parents
  for (size_t dot = domain.find('.'); dot != std::string_view::npos; dot = domain.find('.', dot + 1)) {
    std::string_view parent = domain.substr(dot + 1);
    std::string dotted = "." + std::string(parent);
    if (matches_name(dotted) || (list.parents && matches_name(parent))) return true;
    if (!list.tables.empty()) {
      // A parent is a partial key: pattern tables never see it (Postfix's match_hostname).
      auto hit = list.tables.Lookup(list.parents ? std::string(parent) : dotted, true);
      if (!hit) return Err(hit.error());
      if (*hit) return true;
    }
  }
  return false;
}

Result<Destinations> Destinations::Make(const std::vector<std::string>& mydestination,
                                        const std::vector<std::string>& relay_domains, OwnAddresses own,
                                        bool resolve_numeric_domain) {
  Destinations d;
  auto mydest = MakeList(mydestination, false);
  if (!mydest) return Err("mydestination: " + mydest.error());
  auto relay = MakeList(relay_domains, true);
  if (!relay) return Err("relay_domains: " + relay.error());
  d.mydestination_ = std::move(*mydest);
  d.relay_domains_ = std::move(*relay);
  d.own_ = std::move(own);
  d.resolve_numeric_ = resolve_numeric_domain;
  return d;
}

Result<Destinations> Destinations::FromConfig(const config::Config& cfg) {
  auto mydest = cfg.GetList("mydestination");
  if (!mydest) return Err(mydest.error());
  auto relay = cfg.GetList("relay_domains");
  if (!relay) return Err(relay.error());
  auto numeric = cfg.GetBool("resolve_numeric_domain");
  if (!numeric) return Err(numeric.error());
  auto own = OwnAddresses::FromConfig(cfg, true);
  if (!own) return Err(own.error());
  auto d = Make(*mydest, *relay, std::move(*own), *numeric);
  if (!d) return d;
  auto alias = cfg.GetList("virtual_alias_domains");
  if (!alias) return Err(alias.error());
  auto mailbox = cfg.GetList("virtual_mailbox_domains");
  if (!mailbox) return Err(mailbox.error());
  d->SetVirtual(*alias, *mailbox);
  return d;
}

void Destinations::SetVirtual(const std::vector<std::string>& alias_domains,
                              const std::vector<std::string>& mailbox_domains) {
  // A table that does not open (the default is $virtual_alias_maps) makes
  // every domain that is not local wait, as Postfix's resolve does, rather
  // than stopping the program.
  auto alias = MakeList(alias_domains, false);
  if (!alias) virtual_error_ = "virtual_alias_domains: " + alias.error();
  else virtual_alias_ = std::move(*alias);
  auto mailbox = MakeList(mailbox_domains, false);
  if (!mailbox) virtual_error_ = "virtual_mailbox_domains: " + mailbox.error();
  else virtual_mailbox_ = std::move(*mailbox);
}

std::string Destinations::Canonical(std::string_view domain) const {
  std::string d = StripOneDot(domain);
  if (resolve_numeric_ && IsNumeric(d)) d = (d.find(':') != std::string::npos ? "[ipv6:" : "[") + d + "]";
  return d;
}

bool Destinations::RefusedNumeric(std::string_view domain) const {
  return !resolve_numeric_ && IsNumeric(StripOneDot(domain));
}

Result<bool> Destinations::IsMine(std::string_view domain) {
  if (domain.empty()) return true;
  std::string d = Canonical(domain);
  if (d.empty() || d.back() == '.') return false;
  auto listed = Matches(mydestination_, d);
  if (!listed) return Err("mydestination: " + listed.error());
  if (*listed) return true;
  auto addr = ParseLiteral(d);
  return addr && own_.Contains(*addr);
}

Result<Destination> Destinations::Classify(std::string_view domain) {
  auto mine = IsMine(domain);
  if (!mine) return Err(mine.error());
  if (*mine) return Destination::kLocal;
  std::string d = Canonical(domain);
  if (d.empty() || d.back() == '.') return Destination::kRemote;
  // Postfix's resolve order: local, virtual alias, virtual mailbox, relay.
  if (!virtual_error_.empty()) return Err(virtual_error_);
  auto alias = Matches(virtual_alias_, d);
  if (!alias) return Err("virtual_alias_domains: " + alias.error());
  if (*alias) return Destination::kVirtualAlias;
  auto mailbox = Matches(virtual_mailbox_, d);
  if (!mailbox) return Err("virtual_mailbox_domains: " + mailbox.error());
  if (*mailbox) return Destination::kVirtualMailbox;
  auto relay = Matches(relay_domains_, d);
  if (!relay) return Err("relay_domains: " + relay.error());
  return *relay ? Destination::kRelay : Destination::kRemote;
}

}  // namespace postern::route
