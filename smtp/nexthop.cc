// smtp/nexthop.cc — next-hop syntax as Postfix's smtp and lmtp clients read it.
#include "smtp/nexthop.h"

#include <netdb.h>

#include "util/strings.h"

namespace postern::smtp_client {

Result<uint16_t> ParsePort(std::string_view text, bool lmtp) {
  unsigned long long n = 0;
  if (ParseUnsigned(text, &n)) {
    if (n == 0 || n > 65535) return Err("bad port number: " + std::string(text));
    return uint16_t(n);
  }
  if (text.empty() || text.size() > 64) return Err("bad port: " + std::string(text));
  servent se{};
  servent* found = nullptr;
  char buf[1024];
  std::string name(text);
  if (getservbyname_r(name.c_str(), "tcp", &se, buf, sizeof buf, &found) != 0 || !found) {
    // Debian's /etc/services may lack lmtp; its number is fixed (RFC 2033).
    if (lmtp && name == "lmtp") return uint16_t(24);
    if (name == "smtp") return uint16_t(25);
    return Err("unknown service: " + name);
  }
  return uint16_t(ntohs(uint16_t(found->s_port)));
}

Result<Nexthop> ParseNexthop(std::string_view text, std::string_view fallback_domain, bool lmtp,
                             std::string_view default_port) {
  Nexthop h;
  text = Trim(text);
  if (text.empty()) text = fallback_domain;
  if (text.empty()) return Err("empty next hop");
  if (text.size() > 1024) return Err("next hop too long");
  if (text.starts_with("unix:")) {
    if (!lmtp) return Err("smtp cannot deliver to a unix socket: " + std::string(text));
    h.kind = Nexthop::Kind::kUnix;
    h.host = std::string(text.substr(5));
    if (h.host.empty()) return Err("empty unix socket path");
    return h;
  }
  if (text.starts_with("inet:")) text.remove_prefix(5);
  std::string_view port_text = default_port;
  bool bracketed = false;
  if (text.starts_with("[")) {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return Err("missing ] in next hop: " + std::string(text));
    h.host = std::string(text.substr(1, close - 1));
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return Err("bad next hop: " + std::string(text));
      port_text = rest.substr(1);
    }
    bracketed = true;
  } else {
    // "host:port"; a bare IPv6 address needs brackets, as in Postfix.
    size_t colon = text.rfind(':');
    if (colon != std::string_view::npos && text.find(':') == colon) {
      h.host = std::string(text.substr(0, colon));
      port_text = text.substr(colon + 1);
    } else {
      h.host = std::string(text);
    }
  }
  if (h.host.empty()) return Err("empty host in next hop: " + std::string(text));
  auto port = ParsePort(port_text, lmtp);
  if (!port) return Err(port.error());
  h.port = *port;
  h.mx_lookup = !lmtp && !bracketed;
  return h;
}

}  // namespace postern::smtp_client
