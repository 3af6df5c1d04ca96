// smtp/self_mx.h — Postfix's smtp_find_self/smtp_truncate_self: whether a
// destination's servers include this host (inet_interfaces, proxy_interfaces),
// which MX hosts are left to try, and the "loops back to myself" verdict.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "postern/dns/resolver.h"
#include "postern/route/own_addr.h"

namespace postern::smtp_client {

struct SelfCheck {
  bool found_self = false;  // one of the servers is us: we are an MX host
  size_t keep = 0;          // MX hosts (in order) more preferred than us
  std::string dsn;          // empty, or "5.4.6" (loop) / "4.4.4" (no primary)
  std::string reason;       // "mail for DOMAIN loops back to myself", ...
};

// An MX list sorted by preference. Nothing of ours: keep = all hosts. Us at
// preference P: keep the hosts below P; none left is a loop (5.4.6), or 4.4.4
// "unable to find primary relay" when better hosts had no address.
SelfCheck CheckMxHosts(const std::vector<dns::MxHost>& hosts, const route::OwnAddresses& own,
                       const std::string& domain);
// A [host] next hop or a host without MX: any own address is a loop (5.4.6).
SelfCheck CheckHost(const std::vector<dns::IpAddress>& addrs, const route::OwnAddresses& own,
                    const std::string& host);

}  // namespace postern::smtp_client
