// route/own_addr.h — this host's own network addresses, as Postfix's
// own_inet_addr/proxy_inet_addr know them (inet_interfaces, proxy_interfaces),
// plus the hosts master.cf's inet services listen on. IPv4-mapped IPv6
// addresses (::ffff:a.b.c.d) compare as the IPv4 address they carry.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "postern/dns/address.h"
#include "postern/util/result.h"

namespace postern::config {
class Config;
}

namespace postern::route {

class OwnAddresses {
 public:
  // inet_interfaces ("all": every interface address; "loopback-only"; names
  // and addresses), proxy_interfaces, filtered by inet_protocols. With
  // `listeners`, also the hosts of master.cf inet services ("127.0.0.1:2525").
  static Result<OwnAddresses> FromConfig(const config::Config& cfg, bool listeners);
  // For tests: exactly these addresses.
  static OwnAddresses Of(std::vector<dns::IpAddress> own, std::vector<dns::IpAddress> proxy = {});

  bool IsInterface(const dns::IpAddress& a) const;  // own_inet_addr
  bool IsProxy(const dns::IpAddress& a) const;      // proxy_inet_addr
  bool Contains(const dns::IpAddress& a) const { return IsInterface(a) || IsProxy(a); }

 private:
  std::vector<dns::IpAddress> own_, proxy_;
};

// The IPv4 address inside an IPv4-mapped IPv6 address; other addresses as they are.
dns::IpAddress Unmapped(const dns::IpAddress& a);

// The address of an RFC 5321 address literal: "[192.0.2.1]", "[IPv6:2001:db8::1]"
// (the tag in any case). nullopt for anything else, e.g. "[::1]" without the tag.
std::optional<dns::IpAddress> ParseLiteral(std::string_view literal);

}  // namespace postern::route
