// smtp/sasl_policy.cc — password-map keys and SASL security options of the
// client's AUTH; see sasl_policy.h.
#include "smtp/sasl_policy.h"

#include "postern/util/strings.h"
#include "smtp/nexthop.h"

namespace postern::smtp_client {

Result<bool> PlaintextMechanismsAllowed(const std::vector<std::string>& options, std::string_view param) {
  bool allowed = true;
  for (const std::string& o : options) {
    std::string w = ToLower(o);
    if (w == "noanonymous") continue;  // PLAIN and LOGIN are not anonymous
    if (w == "noplaintext" || w == "noactive" || w == "nodictionary" || w == "mutual_auth" ||
        w == "forward_secrecy") {
      allowed = false;
      continue;
    }
    return Err(std::string(param) + ": unknown SASL security option \"" + o + "\"");
  }
  return allowed;
}

std::vector<std::string> SaslLookupKeys(std::string_view nexthop_text, std::string_view hop_host, uint16_t hop_port,
                                        bool mx_lookup, std::string_view server_host) {
  std::vector<std::string> keys = NexthopKeys(nexthop_text, hop_host, hop_port, mx_lookup);
  std::string host(hop_host);
  if (hop_port != 0) AddLookupKey(&keys, host + ":" + std::to_string(hop_port));  // not for unix:/path
  AddLookupKey(&keys, host);
  AddLookupKey(&keys, std::string(server_host));
  return keys;
}

}  // namespace postern::smtp_client
