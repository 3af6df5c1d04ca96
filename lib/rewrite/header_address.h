// rewrite/header_address.h — the addresses inside a message header (From:,
// To:, Cc:, ...): which headers carry sender or recipient addresses (Postfix's
// header_opts), and rewriting each address of one header in place.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "postern/rewrite/canonical.h"
#include "postern/util/result.h"

namespace postern::rewrite {

// The class of the addresses in header `name` (From: → kHeaderSender, To: →
// kHeaderRecipient), nullopt for a header that carries none.
std::optional<AddressClass> HeaderAddressClass(std::string_view name);

// `value` (the text after "Name:", folding included) with every mailbox
// address (in <angle brackets> or bare, within groups, next to comments and
// display names) replaced by fn(address) when that differs. Addresses reach
// fn unquoted ("a b"@x as a b@x) and go back quoted where RFC 5322 needs it.
// nullopt: nothing changed. An error from fn stops the rewrite.
using AddressFn = std::function<Result<std::string>(std::string_view)>;
Result<std::optional<std::string>> RewriteHeaderAddresses(std::string_view value, const AddressFn& fn);

// One whole header ("Name: value\r\n", folding included) whose name
// HeaderAddressClass knows and `wants`: its addresses through fn(address,
// class), the line end kept. An error from fn leaves the header as it was.
using ClassFn = std::function<Result<std::string>(std::string_view, AddressClass)>;
Result<void> RewriteAddressHeader(std::string* header, const std::function<bool(AddressClass)>& wants,
                                  const ClassFn& fn);

}  // namespace postern::rewrite
