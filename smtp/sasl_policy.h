// smtp/sasl_policy.h — the pure rules of the client's AUTH: which password-map
// keys a next hop has and whether the SASL security options allow PLAIN/LOGIN.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "postern/util/result.h"

namespace postern::smtp_client {

// Postfix's (Cyrus SASL's) security options, judged for the only mechanisms
// the client speaks, PLAIN and LOGIN, which send the password as it is: true
// when none of the options excludes them (noanonymous alone, or nothing).
// noplaintext, noactive, nodictionary, mutual_auth and forward_secrecy each
// exclude them; an unknown word is an error naming `param`.
Result<bool> PlaintextMechanismsAllowed(const std::vector<std::string>& options, std::string_view param);

// The password-map keys of a next hop, Postfix's order: the next hop as
// written ("[host]:port", "domain"), its bare host, then the server's name;
// a unix-socket next hop (port 0) has no port forms.
std::vector<std::string> SaslLookupKeys(std::string_view nexthop_text, std::string_view hop_host,
                                        uint16_t hop_port, bool mx_lookup, std::string_view server_host);

}  // namespace postern::smtp_client
