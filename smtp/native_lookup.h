// smtp/native_lookup.h — smtp_host_lookup = native: a host's addresses from
// the system's resolver (getaddrinfo: /etc/hosts, nsswitch.conf) through
// libuv's thread pool, shaped as the DNS resolver's AddressResult.
#pragma once

#include <uv.h>

#include <functional>
#include <string>

#include "postern/dns/resolver.h"

namespace postern::smtp_client {

// IPv4 first, then IPv6, of the families asked for; a failure in Postfix's
// words ("Host or domain name not found. Name service error for name=... :
// Host not found"), temporary when getaddrinfo says EAI_AGAIN.
void NativeLookup(uv_loop_t* loop, const std::string& host, bool ipv4, bool ipv6,
                  std::function<void(dns::AddressResult)> done);

}  // namespace postern::smtp_client
