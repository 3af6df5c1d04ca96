// route/destinations.h — THE answer to "is this domain mine?" (Postfix's
// resolve_local) and "do I relay to it?", shared by smtpd's restrictions and
// qmgr's routing so that the two can never disagree; also Postfix's virtual
// alias and virtual mailbox domain classes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "postern/route/own_addr.h"
#include "postern/table/table.h"
#include "postern/util/result.h"

namespace postern::config {
class Config;
}

namespace postern::route {

enum class Destination {
  kLocal,           // mydestination, or a literal of one of our addresses
  kVirtualAlias,    // virtual_alias_domains: every address must be an alias
  kVirtualMailbox,  // virtual_mailbox_domains: virtual_transport delivers
  kRelay,           // relay_domains
  kRemote,          // anything else
};

class Destinations {
 public:
  // mydestination, relay_domains, resolve_numeric_domain and the own
  // addresses (inet_interfaces, proxy_interfaces, master.cf inet hosts).
  static Result<Destinations> FromConfig(const config::Config& cfg);
  // mydestination entries are names (exact) or type:table; relay_domains
  // entries match subdomains too (Postfix's parent_domain_matches_subdomains).
  static Result<Destinations> Make(const std::vector<std::string>& mydestination,
                                   const std::vector<std::string>& relay_domains, OwnAddresses own,
                                   bool resolve_numeric_domain);

  // virtual_alias_domains and virtual_mailbox_domains (names, exact, or
  // type:table), classified after mydestination and before relay_domains.
  void SetVirtual(const std::vector<std::string>& alias_domains,
                          const std::vector<std::string>& mailbox_domains);

  // The domain as resolve compares it: lower case, one trailing dot removed,
  // and under resolve_numeric_domain a bare address ("192.0.2.1") as its
  // literal ("[192.0.2.1]").
  std::string Canonical(std::string_view domain) const;
  // resolve_local: the canonical domain is in mydestination, or is an
  // address literal ([192.0.2.1], [IPv6:...], IPv4-mapped) of one of our
  // addresses. The empty domain (a bare local part) is ours. An error means
  // a table could not be read: try again later.
  Result<bool> IsMine(std::string_view domain);
  Result<Destination> Classify(std::string_view domain);
  // A domain of digits and dots ("192.0.2.1"): not a host name; with
  // resolve_numeric_domain = no Postfix refuses it as bad syntax.
  bool RefusedNumeric(std::string_view domain) const;

 private:
  // A domain list entry: a name (with subdomains when `parents`) or a table.
  struct DomainList {
    std::vector<std::string> names;
    table::TableList tables;
    bool parents = false;
  };
  static Result<DomainList> MakeList(const std::vector<std::string>& entries, bool parents);
  static Result<bool> Matches(DomainList& list, std::string_view domain);

  DomainList mydestination_, relay_domains_, virtual_alias_, virtual_mailbox_;
  std::string virtual_error_;  // a virtual domain table that did not open
  OwnAddresses own_;
  bool resolve_numeric_ = false;
};

}  // namespace postern::route
