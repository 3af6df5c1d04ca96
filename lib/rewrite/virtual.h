// rewrite/virtual.h — virtual_alias_maps expansion (Postfix's cleanup_map1n):
// one recipient in, its final recipients out. The one place every entry point
// (smtpd, pickup/sendmail) calls before a recipient enters the queue.
#pragma once

#include <cstddef>
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

struct VirtualSettings {
  std::string recipient_delimiter;  // characters; empty = no address extensions
  // propagate_unmatched_extensions has "virtual": user+ext@d matched as
  // user@d gives results with +ext appended to their local part.
  bool propagate_extension = true;
  // Domains for which the bare "user" form is looked up (Postfix: $myorigin,
  // $mydestination); lower case. Table entries of mydestination are not used.
  std::vector<std::string> local_domains;
  size_t recursion_limit = 1000;  // virtual_alias_recursion_limit
  size_t expansion_limit = 1000;  // virtual_alias_expansion_limit
};

class VirtualAliases {
 public:
  VirtualAliases() = default;
  VirtualAliases(VirtualSettings s, table::TableList maps) : s_(std::move(s)), maps_(std::move(maps)) {}
  // virtual_alias_maps, recipient_delimiter, propagate_unmatched_extensions,
  // myorigin, mydestination and the two limits from main.cf.
  static Result<VirtualAliases> FromConfig(const config::Config& cfg);

  bool empty() const { return maps_.empty(); }

  // The final recipients of `address`, duplicates removed, in expansion
  // order; {address} itself when no alias applies. An address that expands
  // to itself (a → a, b) is kept and not expanded again; a loop ends at the
  // address where it closes. An error (a table could not be read, a limit
  // was exceeded) means "try again later": never deliver a partial list.
  Result<std::vector<std::string>> Expand(std::string_view address);

 private:
  Result<void> Walk(const std::string& address, size_t depth, std::vector<std::string>* stack,
                    std::vector<std::string>* out);
  // Looks the address up in Postfix's order; nullopt-valued when no entry.
  Result<std::optional<std::vector<std::string>>> Lookup(const std::string& address);
  bool LocalDomain(std::string_view domain) const;

  VirtualSettings s_;
  table::TableList maps_;
  std::string top_;  // the address being expanded, for error messages
};

// Splits an alias or virtual right-hand side into addresses: commas or white
// space between them, <brackets> removed, "quoted strings" kept whole.
std::vector<std::string> SplitAddressList(std::string_view rhs);

// user+ext@domain with `delimiters`: sets *user (with @domain) and *ext (no
// delimiter); false when the address has no extension.
bool SplitExtension(std::string_view address, std::string_view delimiters, std::string* base,
                    std::string* ext, char* delim);

// The DSN original recipient (RFC 3461 ORCPT) of an address that a rewrite
// replaced: "rfc822;" and the address in xtext.
std::string OrcptFor(std::string_view address);

}  // namespace postern::rewrite
