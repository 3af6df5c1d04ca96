// sendmail/addrlist.h — RFC 5322 header address lists (To/Cc/Bcc) for
// `sendmail -t`: display names, comments, quoted strings, groups and obsolete
// route addresses, with Python's email.utils.getaddresses as the reference.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "postern/util/result.h"

namespace postern::sendmail {

inline constexpr size_t kMaxHeaderValue = 64 * 1024;  // one unfolded header
inline constexpr size_t kMaxAddresses = 10000;         // addresses per message

// Removes CRLF/LF folding (a line break followed by white space).
std::string Unfold(std::string_view value);

// The addr-specs of one unfolded header value, in order; group names and
// empty groups give none. Fails on unbalanced quotes, comments or brackets.
Result<std::vector<std::string>> ParseAddressList(std::string_view value);

}  // namespace postern::sendmail
