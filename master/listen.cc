// master/listen.cc — resolving master.cf service names to addresses and
// opening the listening sockets; see listen.h.
#include "master/listen.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>

#include "postern/util/strings.h"
#include "postern/util/unix_socket.h"

namespace postern::master {

namespace {

std::string Key(int family, const std::string& host, int port) {
  return family == AF_INET6 ? "inet:[" + host + "]:" + std::to_string(port)
                            : "inet:" + host + ":" + std::to_string(port);
}

Result<int> ResolvePort(const std::string& service) {
  unsigned long long n = 0;
  if (ParseUnsigned(service, &n)) {
    if (n == 0 || n > 65535) return Err("bad port number: " + service);
    return int(n);
  }
  servent* se = getservbyname(service.c_str(), "tcp");
  if (!se) return Err("unknown service name: " + service);
  return int(ntohs(uint16_t(se->s_port)));
}

// Numeric addresses of a host name or literal, filtered by inet_protocols.
Result<void> ResolveHost(const std::string& host, bool v4, bool v6, int port, std::vector<ListenAddress>* out) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = v4 && v6 ? AF_UNSPEC : v4 ? AF_INET : AF_INET6;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0) return Err("host " + host + ": " + gai_strerror(rc));
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    char buf[INET6_ADDRSTRLEN] = {};
    const void* a = ai->ai_family == AF_INET ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr)
                                             : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr);
    inet_ntop(ai->ai_family, a, buf, sizeof buf);
    ListenAddress la{Key(ai->ai_family, buf, port), ai->ai_family, buf, port, ""};
    bool dup = false;
    for (auto& o : *out) dup = dup || o.key == la.key;
    if (!dup) out->push_back(la);
  }
  freeaddrinfo(res);
  return {};
}

Result<std::vector<ListenAddress>> ResolveInet(const config::MasterService& s, const config::Config& cfg) {
  std::string host, port = s.service;
  if (!s.service.empty() && s.service[0] == '[') {
    size_t close = s.service.find("]:");
    if (close == std::string::npos) return Err("bad inet service \"" + s.service + "\" (use [host]:port)");
    host = s.service.substr(1, close - 1);
    port = s.service.substr(close + 2);
  } else if (size_t colon = s.service.rfind(':'); colon != std::string::npos) {
    host = s.service.substr(0, colon);
    port = s.service.substr(colon + 1);
  }
  auto p = ResolvePort(port);
  if (!p) return Err(p.error());
  bool v4 = false, v6 = false;
  for (const auto& proto : cfg.List("inet_protocols")) {
    if (proto == "all") v4 = v6 = true;
    else if (proto == "ipv4") v4 = true;
    else if (proto == "ipv6") v6 = true;
    else return Err("bad inet_protocols value: " + proto + " (use ipv4, ipv6 or all)");
  }
  if (!v4 && !v6) return Err("inet_protocols enables no address family");
  std::vector<ListenAddress> out;
  std::vector<std::string> hosts;
  if (!host.empty()) {
    hosts.push_back(host);
  } else {
    for (const auto& i : cfg.List("inet_interfaces")) {
      if (i == "all") {
        if (v4) out.push_back({Key(AF_INET, "0.0.0.0", *p), AF_INET, "0.0.0.0", *p, ""});
        if (v6) out.push_back({Key(AF_INET6, "::", *p), AF_INET6, "::", *p, ""});
      } else if (i == "loopback-only") {
        if (v4) hosts.push_back("127.0.0.1");
        if (v6) hosts.push_back("::1");
      } else {
        hosts.push_back(i.size() > 2 && i.front() == '[' && i.back() == ']' ? i.substr(1, i.size() - 2) : i);
      }
    }
  }
  for (const auto& h : hosts)
    if (auto r = ResolveHost(h, v4, v6, *p, &out); !r) return Err(r.error());
  if (out.empty()) return Err("no address to listen on for " + s.service);
  return out;
}

}  // namespace

Result<std::vector<ListenAddress>> ResolveListen(const config::MasterService& s, const config::Config& cfg) {
  if (s.type == "inet") {
    auto r = ResolveInet(s, cfg);
    if (!r) return Err("service " + s.Key() + ": " + r.error());
    return r;
  }
  if (s.type == "unix") {
    std::string dir = cfg.Str("queue_directory") + (s.IsPrivate() ? "/private/" : "/public/");
    ListenAddress a{"", AF_UNIX, "", 0, dir + s.service};
    a.key = "unix:" + a.path;
    if (auto sun = MakeUnixAddress(a.path); !sun) return Err("service " + s.Key() + ": " + sun.error());
    return std::vector<ListenAddress>{a};
  }
  return Err("service " + s.Key() + ": type " + s.type + " is not supported (use inet or unix)");
}

int ListenBacklog(const config::MasterService& s, const config::Config& cfg, int somaxconn) {
  config::Config c = cfg;
  for (const auto& [k, v] : s.overrides) c.Override(k, v);
  long long set = c.Int("listen_backlog");
  if (set > 0) return int(std::min<long long>(set, INT_MAX));
  long long procs = std::max<long long>(s.maxproc.value_or(0), c.Int("default_process_limit"));
  return int(std::clamp<long long>(std::max<long long>(somaxconn, procs), 1, INT_MAX));
}

int SystemMaxBacklog() {
  std::ifstream in("/proc/sys/net/core/somaxconn");
  int n = 0;
  return in >> n && n > 0 ? n : 4096;
}

Result<Fd> OpenListener(const ListenAddress& a, int backlog) {
  Fd fd(socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  // A host without IPv6 still serves IPv4 under inet_protocols = all.
  if (!fd.valid() && errno == EAFNOSUPPORT && a.family == AF_INET6) return Fd();
  if (!fd.valid()) return Err("socket for " + a.key + ": " + std::strerror(errno));
  int rc;
  if (a.family == AF_UNIX) {
    auto sun = MakeUnixAddress(a.path);
    if (!sun) return Err(sun.error());
    unlink(a.path.c_str());  // a socket left by an earlier master
    rc = bind(fd.get(), sun->get(), sun->size());
    // Anyone who can reach the directory may connect; the directory's mode
    // (private/ or public/) is the access control, as in Postfix.
    if (rc == 0) chmod(a.path.c_str(), 0666);
  } else {
    int on = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_storage ss{};
    socklen_t len;
    if (a.family == AF_INET) {
      auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
      s4->sin_family = AF_INET;
      s4->sin_port = htons(uint16_t(a.port));
      inet_pton(AF_INET, a.host.c_str(), &s4->sin_addr);
      len = sizeof *s4;
    } else {
      setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
      auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
      s6->sin6_family = AF_INET6;
      s6->sin6_port = htons(uint16_t(a.port));
      inet_pton(AF_INET6, a.host.c_str(), &s6->sin6_addr);
      len = sizeof *s6;
    }
    rc = bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len);
  }
  if (rc != 0) return Err("bind " + a.key.substr(a.key.find(':') + 1) + ": " + std::strerror(errno));
  if (listen(fd.get(), backlog) != 0) return Err("listen " + a.key + ": " + std::strerror(errno));
  return fd;
}

}  // namespace postern::master
