// rewrite/virtual.h — virtual_alias_maps expansion (Postfix's cleanup_map1n):
// one recipient in, its final recipients out. cleanup (lib/cleanup) calls it
// for every recipient of every message that enters the queue.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postern/rewrite/lookup.h"
#include "postern/table/table.h"
#include "postern/util/result.h"

namespace postern::config {
class Config;
}

namespace postern::rewrite {

// Map settings (lookup.h) with propagation when propagate_unmatched_extensions
// lists "virtual".
struct VirtualSettings : MapSettings {
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

  VirtualSettings s_;
  table::TableList maps_;
  std::string top_;  // the address being expanded, for error messages
};

// The DSN original recipient (RFC 3461 ORCPT) of an address that a rewrite
// replaced: "rfc822;" and the address, decoded as the queue keeps it.
std::string OrcptFor(std::string_view address);

}  // namespace postern::rewrite
