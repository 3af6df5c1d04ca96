// smtpd/network_list.cc — mynetworks and the other client network lists:
// CIDR entries, tables looked up with the client address, host names
// resolved on smtpd's loop, and mynetworks_style's interface networks.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "postern/log/log.h"
#include "postern/smtp/address.h"
#include "postern/util/strings.h"
#include "smtpd/policy.h"

namespace postern::smtpd {

namespace {

// Zeroes the host bits of n beyond its prefix.
void MaskHostBits(table::Network* n) {
  int max = n->v6 ? 128 : 32;
  for (int i = n->prefix; i < max; ++i) n->addr[i / 8] &= uint8_t(~(0x80 >> (i % 8)));
}

int PrefixOf(const sockaddr* mask) {
  const uint8_t* b;
  size_t len;
  if (mask->sa_family == AF_INET) {
    b = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(mask)->sin_addr);
    len = 4;
  } else {
    b = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(mask)->sin6_addr);
    len = 16;
  }
  int bits = 0;
  for (size_t i = 0; i < len; ++i) bits += __builtin_popcount(b[i]);
  return bits;
}

}  // namespace

Result<NetworkList> NetworkList::Parse(const std::vector<std::string>& entries) {
  NetworkList l;
  for (const std::string& e : entries) {
    std::string why;
    if (auto n = table::ParseNetwork(e, &why)) {
      l.nets_.push_back(*n);
      continue;
    }
    if (e.find(':') != std::string::npos && e.front() != '[') {
      auto t = table::Open(e);
      if (!t) return Err(t.error());
      l.tables_.push_back(std::shared_ptr<table::Table>(std::move(*t)));
      continue;
    }
    if (!smtp::IsValidDomain(e, false)) return Err(why + " (neither an address, a network, a host name nor a table)");
    l.hosts_->entries.emplace_back().name = ToLower(e);
  }
  return l;
}

void NetworkList::ResolveHosts(dns::Resolver* resolver, std::string_view param) {
  std::weak_ptr<Hosts> weak = hosts_;
  for (size_t i = 0; i < hosts_->entries.size(); ++i) {
    Host& h = hosts_->entries[i];
    h.ticket = resolver->LookupAddresses(h.name, [weak, i, p = std::string(param)](dns::AddressResult r) {
      auto hosts = weak.lock();
      if (!hosts) return;
      Host& h = hosts->entries[i];
      if (!r.outcome.ok()) {
        log::Warning("{}: host name {} does not resolve: {}; clients that no other entry matches get "
                     "451 4.3.5 where {} decides",
                     p, h.name, r.outcome.reason, p);
        return;
      }
      for (const dns::IpAddress& ip : r.addresses) {
        std::string why;
        if (auto n = table::ParseNetwork(ip.ToString(), &why)) h.nets.push_back(*n);
      }
      h.resolved = true;
      log::Verbose("{}: host name {} resolved to {} address(es)", p, h.name, h.nets.size());
    });
  }
}

bool NetworkList::undecided() const {
  return std::any_of(hosts_->entries.begin(), hosts_->entries.end(), [](const Host& h) { return !h.resolved; });
}

Result<void> NetworkList::AddInterfaces(std::string_view style) {
  if (style != "host" && style != "subnet" && style != "class")
    return Err("mynetworks_style: \"" + std::string(style) + "\" is not host, subnet or class");
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return Err(std::string("getifaddrs: ") + std::strerror(errno));
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6)) continue;
    table::Network n;
    n.v6 = i->ifa_addr->sa_family == AF_INET6;
    if (n.v6)
      std::memcpy(n.addr.data(), &reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr, 16);
    else
      std::memcpy(n.addr.data(), &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, 4);
    n.prefix = n.v6 ? 128 : 32;
    if (style == "subnet" && i->ifa_netmask) n.prefix = PrefixOf(i->ifa_netmask);
    if (style == "class") {
      uint8_t first = n.addr[0];
      if (n.v6) n.prefix = i->ifa_netmask ? PrefixOf(i->ifa_netmask) : 64;
      else n.prefix = first < 128 ? 8 : first < 192 ? 16 : first < 224 ? 24 : 32;
    }
    MaskHostBits(&n);
    nets_.push_back(n);
  }
  freeifaddrs(list);
  return {};
}

std::optional<bool> NetworkList::Contains(std::string_view addr) const {
  auto host = table::ParseAddress(addr);
  if (host) {
    for (const auto& n : nets_)
      if (table::NetworkContains(n, *host)) return true;
  }
  if (host) {
    for (const Host& h : hosts_->entries)
      for (const auto& n : h.nets)
        if (table::NetworkContains(n, *host)) return true;
  }
  for (const auto& t : tables_) {
    auto r = t->Lookup(addr);
    if (!r) return std::nullopt;
    if (r->has_value()) return true;
  }
  if (undecided()) return std::nullopt;
  return false;
}

}  // namespace postern::smtpd
