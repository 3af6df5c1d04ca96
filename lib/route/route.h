// route/route.h — where a recipient goes: Postfix's trivial-rewrite resolve
// (our domains and address literals → local_transport, virtual mailbox
// domains → virtual_transport, virtual alias domains → error, relay_domains →
// relay_transport, else default_transport; relayhost for remote mail) and
// then transport(5) maps. "Ours" is decided by destinations.h.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "postern/route/destinations.h"
#include "postern/table/table.h"
#include "postern/util/result.h"

namespace postern::config {
class Config;
}

namespace postern::route {

// A master.cf service name and the destination it is given.
struct Route {
  std::string transport;
  std::string nexthop;
  bool operator==(const Route&) const = default;
};

// "transport:nexthop" as written in default_transport, transport_maps etc.
// Splits at the first ':' ("lmtp:unix:/path" → lmtp, unix:/path); text
// without ':' is a transport alone.
Route ParseSpec(std::string_view text);

// A nexthop as a transport dials it.
struct Nexthop {
  enum class Kind {
    kDomain,  // "example.com", "example.com:587": MX lookup (port given or default)
    kHost,    // "[mx.example]:2525", "[192.0.2.1]": that host, no MX lookup
    kUnix,    // "unix:/path/to/socket" (LMTP)
  };
  Kind kind = Kind::kDomain;
  std::string host;  // without brackets
  uint16_t port = 0;  // 0 = the transport's default port
  std::string path;   // kUnix
  bool operator==(const Nexthop&) const = default;
};
// Postfix's forms: host, host:port, [host], [host]:port, inet:host[:port],
// inet:[host][:port], unix:/path. Ports may be numbers or service names
// known to /etc/services. Rejects empty hosts, bad ports and long input.
Result<Nexthop> ParseNexthop(std::string_view text);
// A port number, or a service name from /etc/services (smtp and lmtp always).
Result<uint16_t> ParsePort(std::string_view text);

struct Settings {
  std::vector<std::string> mydestination;  // domains (exact) or type:table
  std::vector<std::string> relay_domains;  // domains (and subdomains) or type:table
  std::vector<std::string> virtual_alias_domains, virtual_mailbox_domains;  // domains or type:table
  std::string relayhost;
  std::string default_transport = "smtp";
  std::string local_transport = "local";
  std::string relay_transport = "relay";
  std::string virtual_transport = "virtual";
  std::string myhostname;
  std::string recipient_delimiter;  // characters; empty = no address extensions
  OwnAddresses own;                 // whose address literals are local
  bool resolve_numeric_domain = false;
};

class Router {
 public:
  // transport_maps, relayhost, default/local/relay_transport, mydestination,
  // relay_domains, myhostname, recipient_delimiter, resolve_numeric_domain
  // from main.cf; the own addresses from inet_interfaces, proxy_interfaces
  // and master.cf.
  static Result<Router> FromConfig(const config::Config& cfg);
  static Result<Router> Make(Settings s, table::TableList transport_maps);

  // The route of one recipient. An error means a table could not be read:
  // try again later, never guess.
  Result<Route> Resolve(std::string_view recipient);

 private:
  Result<bool> Transport(std::string_view address, std::string_view domain, Route* r);

  Settings s_;
  Destinations dest_;
  table::TableList maps_;
};

}  // namespace postern::route
