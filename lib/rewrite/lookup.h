// rewrite/lookup.h — Postfix's mail_addr_map: the one search order that
// virtual_alias_maps, canonical_maps and smtp_generic_maps share, with
// recipient_delimiter and propagate_unmatched_extensions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postern/table/table.h"
#include "postern/util/result.h"

namespace postern::config {
class Config;
}

namespace postern::rewrite {

struct MapSettings {
  std::string recipient_delimiter;  // characters; empty = no address extensions
  // An unmatched extension (user+ext@d found as user@d) is appended to the
  // local part of each result (propagate_unmatched_extensions).
  bool propagate_extension = true;
  // Domains for which the bare "user" form is looked up (Postfix: $myorigin,
  // $mydestination); lower case. Table entries of mydestination are not used.
  std::vector<std::string> local_domains;

  // recipient_delimiter, myorigin, mydestination; propagation when
  // propagate_unmatched_extensions lists `propagate_class`.
  static Result<MapSettings> FromConfig(const config::Config& cfg, std::string_view propagate_class);
  bool LocalDomain(std::string_view domain) const;
};

// Looks `address` up in `maps` in Postfix's order: user+ext@domain,
// user@domain, then (local domains only) user+ext and user, then @domain.
// A result "@other" keeps the local part (user@other). nullopt: no entry;
// an error: a table could not be read.
Result<std::optional<std::vector<std::string>>> LookupAddressMap(table::TableList& maps, const MapSettings& s,
                                                                 std::string_view address);

// "user@domain" → user, domain (the last '@'); no '@' → the whole is the user.
void SplitAt(std::string_view address, std::string_view* user, std::string_view* domain);

// Splits an alias or virtual right-hand side into addresses: commas or white
// space between them, <brackets> removed, "quoted strings" kept whole.
std::vector<std::string> SplitAddressList(std::string_view rhs);

// user+ext@domain with `delimiters`: sets *user (with @domain) and *ext (no
// delimiter); false when the address has no extension.
bool SplitExtension(std::string_view address, std::string_view delimiters, std::string* base,
                    std::string* ext, char* delim);

}  // namespace postern::rewrite
