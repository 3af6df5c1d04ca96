// table/cidr.h — cidr_table(5): "network/prefix result" rules for IPv4 and
// IPv6 (optionally in [brackets]), "!pattern", if/endif blocks; the first
// matching rule wins. Bad rules are skipped with a warning naming file:line.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postern/util/result.h"

namespace postern::table {

// An IPv4 or IPv6 network; IPv4 uses the first 4 bytes.
struct Network {
  bool v6 = false;
  std::array<uint8_t, 16> addr{};
  int prefix = 0;
};

// Parses an address ("1.2.3.4", "2001:db8::1", "[::1]") into a host network.
std::optional<Network> ParseAddress(std::string_view text);
// Parses "addr/prefix" or "addr"; on failure `why` says what is wrong, in
// Postfix's words (bad prefix, non-null host address bits ...).
std::optional<Network> ParseNetwork(std::string_view text, std::string* why);
bool NetworkContains(const Network& net, const Network& host);

class CidrRules {
 public:
  // Never fails: a bad line is skipped and reported in warnings.
  static CidrRules Parse(std::string_view text, std::string_view origin,
                         std::vector<std::string>* warnings);
  std::optional<std::string> Match(std::string_view address) const;
  size_t size() const { return rules_.size(); }

 private:
  enum class Kind { kMatch, kIf, kEndif };
  struct Rule {
    Kind kind = Kind::kMatch;
    Network net;
    bool negate = false;
    std::string value;
    size_t skip_to = 0;  // kIf: index after the matching endif
  };
  std::vector<Rule> rules_;
};

}  // namespace postern::table
