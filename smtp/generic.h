// smtp/generic.h — smtp_generic_maps (Postfix's generic(5)): the smtp client
// rewrites the envelope sender, the recipients and the address headers of
// mail as it leaves, e.g. a local user's address into a valid Internet one.
#pragma once

#include <string>
#include <string_view>

#include "postern/rewrite/canonical.h"
#include "postern/util/result.h"

namespace postern::smtp_client {

class Generic {
 public:
  Generic() = default;
  explicit Generic(rewrite::AddressMap map) : map_(std::move(map)) {}
  // smtp_generic_maps (lmtp_generic_maps), with propagate_unmatched_extensions' "generic".
  static Result<Generic> Load(const config::Config& cfg, bool lmtp);
  bool empty() const { return map_.empty(); }

  // An envelope address as sent; the null sender stays. An error: a table failed.
  Result<std::string> Address(std::string_view a) const;
  // One whole header (cleanup::HeaderEditor's hook): the addresses of From:,
  // To:, Cc:, ... rewritten; `*failed` set when a table failed (the header stays).
  void Header(std::string* header, bool* failed) const;

 private:
  rewrite::AddressMap map_;
};

}  // namespace postern::smtp_client
