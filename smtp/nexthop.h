// smtp/nexthop.h — what a delivery request's next hop means to the client:
// "[host]:port" (no MX lookup), "host[:port]" or "domain" (MX lookup for
// smtp), and for lmtp "unix:/path", "inet:host:port", "host:port".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "postern/util/result.h"

namespace postern::smtp_client {

struct Nexthop {
  enum class Kind { kTcp, kUnix };
  Kind kind = Kind::kTcp;
  std::string host;      // name or IP literal without brackets; the path for kUnix
  uint16_t port = 0;
  bool mx_lookup = false;  // smtp to a bare name: look up its MX records
};

// Parses `text` (empty: `fallback_domain`, the recipient's domain). lmtp never
// looks up MX records; `default_port` is smtp_tcp_port / lmtp_tcp_port.
Result<Nexthop> ParseNexthop(std::string_view text, std::string_view fallback_domain, bool lmtp,
                             std::string_view default_port);

// Appends a table lookup key for a next hop unless it is empty or already
// listed (case-insensitively): keys are tried in order, each once.
void AddLookupKey(std::vector<std::string>* keys, std::string key);

// The first keys of every per-next-hop table (TLS policy, SASL passwords):
// the next hop as written, then for one without MX lookup "[host]:port" and
// "[host]" (not for a unix socket, port 0).
std::vector<std::string> NexthopKeys(std::string_view nexthop_text, std::string_view hop_host, uint16_t hop_port,
                                     bool mx_lookup);

}  // namespace postern::smtp_client
