// stats/cache_keys.h — the policy cache's record keys for greylisting, message
// limits and early talkers (smtpf's grey:, msg-limit: and dumb: kinds), built from a session's facts.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "postern/util/result.h"

namespace postern::cache {

// greylist_key's fields, in Postfix's policy attribute names; kContent is
// smtpf's +grey-content: the MD5 of the message's headers and body.
enum class GreyField { kClientAddress, kClientNetwork, kClientName, kHeloName, kSender, kRecipient, kContent };
Result<std::vector<GreyField>> ParseGreyFields(const std::vector<std::string>& names);

struct GreyFacts {
  std::string_view client_addr, client_name, helo, sender, recipient;
  std::string_view content;  // hex MD5 of the content (kContent)
};
bool HasContent(const std::vector<GreyField>& fields);

// "192.0.2.0/24" for an IPv4 address, "2001:db8:1:2::/64" for IPv6; the
// text itself when it is not an address.
std::string ClientNetwork(std::string_view addr);

// "grey:" + the fields joined by ',' (names and addresses in lower case); a
// key over the cache's key limit ends in a hash of its tail instead.
std::string GreyKey(const std::vector<GreyField>& fields, const GreyFacts& f);
// The auto-whitelist's counter of passes by one client (its greylist_key
// address field, or the address): "grey:white:" + that.
std::string GreyWhiteKey(const std::vector<GreyField>& fields, std::string_view client_addr);

// "msg-limit:client-ip:ADDR", "msg-limit:sender:ADDR", "msg-limit:recipient:ADDR".
std::string MessageLimitKey(std::string_view kind, std::string_view value);

// smtpd's greeting delay: "dumb:" + the client address (value 5: talked
// early, refused; 2: waited, not delayed again).
std::string DumbKey(std::string_view client_addr);

}  // namespace postern::cache
