// smtp/nexthop.cc — a next hop as the smtp and lmtp clients dial it: the
// syntax is lib/route's; this adds the defaults (recipient domain, port) and
// what LMTP changes (no MX lookups, unix sockets allowed).
#include "smtp/nexthop.h"

#include "postern/route/route.h"
#include "postern/util/strings.h"

namespace postern::smtp_client {

Result<Nexthop> ParseNexthop(std::string_view text, std::string_view fallback_domain, bool lmtp,
                             std::string_view default_port) {
  text = Trim(text);
  if (text.empty()) text = fallback_domain;
  if (text.empty()) return Err("empty next hop");
  auto parsed = route::ParseNexthop(text);
  if (!parsed) return Err(parsed.error());
  Nexthop h;
  if (parsed->kind == route::Nexthop::Kind::kUnix) {
    if (!lmtp) return Err("smtp cannot deliver to a unix socket: " + std::string(text));
    h.kind = Nexthop::Kind::kUnix;
    h.host = parsed->path;
    return h;
  }
  h.host = parsed->host;
  if (parsed->port != 0) {
    h.port = parsed->port;
  } else {
    auto port = route::ParsePort(default_port);
    if (!port) return Err(port.error());
    h.port = *port;
  }
  h.mx_lookup = !lmtp && parsed->kind == route::Nexthop::Kind::kDomain;
  return h;
}

void AddLookupKey(std::vector<std::string>* keys, std::string key) {
  if (key.empty()) return;
  for (const std::string& have : *keys)
    if (EqualsIgnoreCase(have, key)) return;
  keys->push_back(std::move(key));
}

std::vector<std::string> NexthopKeys(std::string_view nexthop_text, std::string_view hop_host, uint16_t hop_port,
                                     bool mx_lookup) {
  std::vector<std::string> keys;
  AddLookupKey(&keys, std::string(nexthop_text));
  if (!mx_lookup && hop_port != 0) {
    std::string host(hop_host);
    AddLookupKey(&keys, "[" + host + "]:" + std::to_string(hop_port));
    AddLookupKey(&keys, "[" + host + "]");
  }
  return keys;
}

}  // namespace postern::smtp_client
