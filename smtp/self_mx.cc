// smtp/self_mx.cc — finding this host among a destination's servers; see self_mx.h.
#include "smtp/self_mx.h"

#include <algorithm>

namespace postern::smtp_client {

namespace {

bool AnyOwn(const std::vector<dns::IpAddress>& addrs, const route::OwnAddresses& own) {
  return std::any_of(addrs.begin(), addrs.end(), [&](const dns::IpAddress& a) { return own.Contains(a); });
}

}  // namespace

SelfCheck CheckMxHosts(const std::vector<dns::MxHost>& hosts, const route::OwnAddresses& own,
                       const std::string& domain) {
  SelfCheck c;
  c.keep = hosts.size();
  auto self = std::find_if(hosts.begin(), hosts.end(), [&](const dns::MxHost& h) { return AnyOwn(h.addresses, own); });
  if (self == hosts.end()) return c;
  c.found_self = true;
  uint16_t self_pref = self->preference;
  c.keep = size_t(std::find_if(hosts.begin(), hosts.end(), [&](const dns::MxHost& h) {
                    return h.preference >= self_pref;
                  }) - hosts.begin());
  bool usable = std::any_of(hosts.begin(), hosts.begin() + long(c.keep),
                            [](const dns::MxHost& h) { return !h.addresses.empty(); });
  if (usable) return c;
  // As Postfix: when the best MX host had no address, we may be a backup
  // waiting for the primary to come back; otherwise we are the best MX.
  auto found = std::find_if(hosts.begin(), hosts.end(), [](const dns::MxHost& h) { return !h.addresses.empty(); });
  if (hosts.front().preference != found->preference) {
    c.dsn = "4.4.4";
    c.reason = "unable to find primary relay for " + domain;
  } else {
    c.dsn = "5.4.6";
    c.reason = "mail for " + domain + " loops back to myself";
  }
  return c;
}

SelfCheck CheckHost(const std::vector<dns::IpAddress>& addrs, const route::OwnAddresses& own,
                    const std::string& host) {
  SelfCheck c;
  c.keep = addrs.size();
  if (!AnyOwn(addrs, own)) return c;
  c.found_self = true;
  c.keep = 0;
  c.dsn = "5.4.6";
  c.reason = "mail for " + host + " loops back to myself";
  return c;
}

}  // namespace postern::smtp_client
