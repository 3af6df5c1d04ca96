// smtp/lookup_failure.h — what the smtp client reports when a next hop's DNS
// lookup leaves no server to try: Postfix's status codes and wording, and
// smtp_defer_if_no_mx_address_found. Pure functions, unit-tested.
#pragma once

#include <string>

#include "postern/dns/resolver.h"

namespace postern::smtp_client {

struct LookupFailure {
  std::string dsn;     // 5.1.10 null MX, 5.4.4 not found, 4.4.3 temporary, 4.4.4 deferred no-address
  std::string reason;  // "Host or domain name not found. Name service error for name=..."
  bool permanent = false;
  bool no_mx_address = false;  // MX records exist but none of their hosts has an address
};

// A failed MX lookup (MxResult::outcome not ok, or a null MX). With
// `defer_if_no_mx_address`, a domain whose MX hosts all lack addresses is
// deferred (4.4.4) instead of bounced (5.4.4).
LookupFailure MxLookupFailure(const dns::MxResult& r, bool defer_if_no_mx_address);
// A failed address lookup of a host next hop ([host] or a fallback relay).
LookupFailure AddressLookupFailure(const dns::AddressResult& r);
// The MX query itself failed temporarily (SERVFAIL, timeout): the case in
// which ignore_mx_lookup_error looks up the domain's addresses instead.
bool MxQueryFailed(const dns::MxResult& r);

}  // namespace postern::smtp_client
