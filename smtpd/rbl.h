// smtpd/rbl.h — the pure parts of DNS-based lists: a list site with its
// result filter (zen.example=127.0.0.[2..11]), the names queried, and
// Postfix's reply templates (default_rbl_reply, rbl_reply_maps). No I/O.
#pragma once

#include <array>
#include <bitset>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postern/util/result.h"

namespace postern::smtpd {

// One reject_rbl_client/permit_dnswl_client/reject_rhsbl_* argument.
class RblSite {
 public:
  // "domain" or "domain=d.d.d.d", each d a number, or Postfix's [N..M] range,
  // or a [N;M..K;...] list of numbers and ranges.
  static Result<RblSite> Parse(std::string_view spec);
  const std::string& domain() const { return domain_; }
  const std::string& spec() const { return spec_; }  // as written, for rbl_reply_maps and logs
  // A lookup's A records: listed when one passes the filter (any, without one).
  bool Listed(const std::vector<std::string>& addresses) const;

 private:
  std::string spec_, domain_;
  std::optional<std::array<std::bitset<256>, 4>> filter_;
};

// The name to query: the reversed address (octets, or nibbles for IPv6) under
// the site's domain; nullopt when `address` is not an IP address.
std::optional<std::string> RblAddressQuery(std::string_view address, std::string_view domain);
// A domain-based list: "name.domain" (trailing dot dropped); nullopt when
// the name cannot be queried (empty, "unknown", an address literal, too long).
std::optional<std::string> RhsblQuery(std::string_view name, std::string_view domain);

// Postfix's $-macros of reply templates: $name, ${name}, ${name?text} (text
// when the value is not empty), ${name:text} (text when it is), $$. Unknown
// names expand to nothing.
using MacroLookup = std::function<std::optional<std::string>(std::string_view name)>;
std::string ExpandTemplate(std::string_view tmpl, const MacroLookup& lookup);

// "554 5.7.1 text" or "554 text": a reply's code, enhanced status (default
// 4.7.1/5.7.1 by class) and text; nullopt unless it starts with 4NN or 5NN.
struct ParsedReply {
  int code = 0;
  std::string enhanced, text;
};
std::optional<ParsedReply> ParseReplyText(std::string_view reply);

}  // namespace postern::smtpd
