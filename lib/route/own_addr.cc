// route/own_addr.cc — collecting the host's own addresses from main.cf,
// master.cf and the interfaces (getifaddrs); see own_addr.h.
#include "postern/route/own_addr.h"

#include <ifaddrs.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "postern/config/maincf.h"
#include "postern/config/mastercf.h"
#include "postern/util/strings.h"

namespace postern::route {

namespace {

struct Families {
  bool v4 = false, v6 = false;
  bool Allows(const dns::IpAddress& a) const { return a.is_v4() ? v4 : v6; }
};

Result<Families> FamiliesOf(const config::Config& cfg) {
  auto list = cfg.GetList("inet_protocols");
  if (!list) return Err(list.error());
  Families f;
  for (const std::string& p : *list) {
    if (p == "all") f.v4 = f.v6 = true;
    else if (p == "ipv4") f.v4 = true;
    else if (p == "ipv6") f.v6 = true;
    else return Err("inet_protocols: bad value \"" + p + "\" (use ipv4, ipv6 or all)");
  }
  return f;
}

struct IfaddrsFree {
  void operator()(ifaddrs* p) const { freeifaddrs(p); }
};
struct AddrinfoFree {
  void operator()(addrinfo* p) const { freeaddrinfo(p); }
};

std::optional<dns::IpAddress> FromSockaddr(const sockaddr* sa) {
  if (!sa) return std::nullopt;
  if (sa->sa_family == AF_INET) return dns::IpAddress::V4(reinterpret_cast<const sockaddr_in*>(sa)->sin_addr);
  if (sa->sa_family == AF_INET6) return dns::IpAddress::V6(reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr);
  return std::nullopt;
}

// inet_interfaces = all: the addresses of every interface.
Result<void> AddInterfaces(const Families& f, std::vector<dns::IpAddress>* out) {
  ifaddrs* raw = nullptr;
  if (getifaddrs(&raw) != 0) return Err(std::string("getifaddrs: ") + std::strerror(errno));
  std::unique_ptr<ifaddrs, IfaddrsFree> list(raw);
  for (ifaddrs* i = raw; i; i = i->ifa_next) {
    if (auto a = FromSockaddr(i->ifa_addr); a && f.Allows(*a)) out->push_back(*a);
  }
  return {};
}

// A numeric address or a host name (looked up once, at start-up, as Postfix does).
Result<void> AddHost(std::string_view text, const Families& f, std::vector<dns::IpAddress>* out) {
  std::string host(text);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (auto a = dns::IpAddress::Parse(host)) {
    if (f.Allows(*a)) out->push_back(*a);
    return {};
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = f.v4 && f.v6 ? AF_UNSPEC : f.v4 ? AF_INET : AF_INET6;
  addrinfo* raw = nullptr;
  if (int rc = getaddrinfo(host.c_str(), nullptr, &hints, &raw); rc != 0)
    return Err("host " + host + ": " + gai_strerror(rc));
  std::unique_ptr<addrinfo, AddrinfoFree> res(raw);
  for (addrinfo* ai = raw; ai; ai = ai->ai_next) {
    if (auto a = FromSockaddr(ai->ai_addr); a && f.Allows(*a)) out->push_back(*a);
  }
  return {};
}

Result<void> AddInetInterfaces(const config::Config& cfg, const Families& f, std::vector<dns::IpAddress>* out) {
  auto list = cfg.GetList("inet_interfaces");
  if (!list) return Err(list.error());
  for (const std::string& i : *list) {
    Result<void> r;
    if (EqualsIgnoreCase(i, "all")) {
      r = AddInterfaces(f, out);
    } else if (EqualsIgnoreCase(i, "loopback-only")) {
      r = AddHost("127.0.0.1", f, out);
      if (r) r = AddHost("::1", f, out);
    } else {
      r = AddHost(i, f, out);
    }
    if (!r) return Err("inet_interfaces: " + r.error());
  }
  return {};
}

// The host part of an inet service name: "127.0.0.1:2525", "[::1]:2525"; "" for a bare port.
std::string ServiceHost(const std::string& service) {
  if (!service.empty() && service.front() == '[') {
    size_t close = service.find(']');
    return close == std::string::npos ? "" : service.substr(1, close - 1);
  }
  size_t colon = service.rfind(':');
  return colon == std::string::npos ? "" : service.substr(0, colon);
}

Result<void> AddListeners(const config::Config& cfg, const Families& f, std::vector<dns::IpAddress>* out) {
  if (cfg.config_dir().empty()) return {};
  auto services = config::LoadMasterCf(cfg.config_dir());
  if (!services) return {};  // master reports a broken master.cf; here it adds nothing
  for (const auto& s : *services) {
    if (s.type != "inet") continue;
    std::string host = ServiceHost(s.service);
    if (host.empty()) continue;  // on inet_interfaces, counted already
    auto a = dns::IpAddress::Parse(host);
    Result<void> r = a && std::all_of(a->bytes(), a->bytes() + a->size(), [](uint8_t b) { return b == 0; })
                         ? AddInterfaces(f, out)  // 0.0.0.0 or ::: every interface
                         : AddHost(host, f, out);
    if (!r) return Err("master.cf service " + s.Key() + ": " + r.error());
  }
  return {};
}

bool In(const std::vector<dns::IpAddress>& list, const dns::IpAddress& a) {
  dns::IpAddress u = Unmapped(a);
  return std::find(list.begin(), list.end(), u) != list.end();
}

void Normalize(std::vector<dns::IpAddress>* list) {
  for (auto& a : *list) a = Unmapped(a);
  std::sort(list->begin(), list->end());
  list->erase(std::unique(list->begin(), list->end()), list->end());
}

}  // namespace

dns::IpAddress Unmapped(const dns::IpAddress& a) {
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (!a.is_v6() || std::memcmp(a.bytes(), kMapped, sizeof kMapped) != 0) return a;
  in_addr v4;
  std::memcpy(&v4, a.bytes() + 12, 4);
  return dns::IpAddress::V4(v4);
}

std::optional<dns::IpAddress> ParseLiteral(std::string_view lit) {
  if (lit.size() < 3 || lit.front() != '[' || lit.back() != ']') return std::nullopt;
  lit = lit.substr(1, lit.size() - 2);
  bool tagged = lit.size() > 5 && EqualsIgnoreCase(lit.substr(0, 5), "ipv6:");
  if (tagged) lit.remove_prefix(5);
  auto a = dns::IpAddress::Parse(lit);
  // RFC 5321 4.1.3: an IPv6 literal carries the tag, an IPv4 one does not.
  if (!a || a->is_v6() != tagged) return std::nullopt;
  return a;
}

Result<OwnAddresses> OwnAddresses::FromConfig(const config::Config& cfg, bool listeners) {
  auto f = FamiliesOf(cfg);
  if (!f) return Err(f.error());
  OwnAddresses o;
  if (auto r = AddInetInterfaces(cfg, *f, &o.own_); !r) return Err(r.error());
  if (listeners) {
    if (auto r = AddListeners(cfg, *f, &o.own_); !r) return Err(r.error());
  }
  auto proxy = cfg.GetList("proxy_interfaces");
  if (!proxy) return Err(proxy.error());
  for (const std::string& p : *proxy) {
    if (auto r = AddHost(p, *f, &o.proxy_); !r) return Err("proxy_interfaces: " + r.error());
  }
  Normalize(&o.own_);
  Normalize(&o.proxy_);
  return o;
}

OwnAddresses OwnAddresses::Of(std::vector<dns::IpAddress> own, std::vector<dns::IpAddress> proxy) {
  OwnAddresses o;
  o.own_ = std::move(own);
  o.proxy_ = std::move(proxy);
  Normalize(&o.own_);
  Normalize(&o.proxy_);
  return o;
}

bool OwnAddresses::IsInterface(const dns::IpAddress& a) const { return In(own_, a); }
bool OwnAddresses::IsProxy(const dns::IpAddress& a) const { return In(proxy_, a); }

}  // namespace postern::route
