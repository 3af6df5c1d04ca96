// route/route.cc — resolving a recipient to transport:nexthop as Postfix's
// trivial-rewrite does, with transport(5) lookups overriding the default.
#include "postern/route/route.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <utility>

#include "postern/config/maincf.h"
#include "postern/util/strings.h"

namespace postern::route {

namespace {

constexpr size_t kMaxNexthop = 1024;

std::string_view DomainOf(std::string_view address) {
  size_t at = address.rfind('@');
  return at == std::string_view::npos ? std::string_view() : address.substr(at + 1);
}

// host, host:port, [host], [host]:port (an IPv6 address needs the brackets).
Result<Nexthop> ParseHostPort(std::string_view text) {
  Nexthop n;
  std::string_view rest;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return Err("missing ] in " + std::string(text));
    n.kind = Nexthop::Kind::kHost;
    n.host = std::string(text.substr(1, close - 1));
    // An address literal's tag: [IPv6:2001:db8::1] is the host 2001:db8::1.
    if (n.host.size() > 5 && EqualsIgnoreCase(std::string_view(n.host).substr(0, 5), "ipv6:")) n.host.erase(0, 5);
    rest = text.substr(close + 1);
  } else {
    // host:port; text with several colons is a bare IPv6 address (no port).
    size_t colon = text.find(':');
    bool one_colon = colon != std::string_view::npos && text.rfind(':') == colon;
    n.host = std::string(one_colon ? text.substr(0, colon) : text);
    if (one_colon) rest = text.substr(colon);
  }
  if (n.host.empty()) return Err("empty host in nexthop " + std::string(text));
  if (!rest.empty()) {
    if (rest[0] != ':') return Err("junk after host in nexthop " + std::string(text));
    auto port = ParsePort(rest.substr(1));
    if (!port) return Err(port.error());
    n.port = *port;
  }
  return n;
}

}  // namespace

Result<uint16_t> ParsePort(std::string_view text) {
  unsigned long long n = 0;
  if (ParseUnsigned(text, &n)) {
    if (n == 0 || n > 65535) return Err("bad port " + std::string(text));
    return static_cast<uint16_t>(n);
  }
  if (text.empty() || text.size() > 64) return Err("bad port " + std::string(text));
  // A service name, as Postfix allows (smtp, lmtp, submission).
  std::string name(text);
  struct servent se, *res = nullptr;
  char buf[1024];
  if (getservbyname_r(name.c_str(), "tcp", &se, buf, sizeof buf, &res) == 0 && res)
    return static_cast<uint16_t>(ntohs(static_cast<uint16_t>(res->s_port)));
  // Fixed numbers, for an /etc/services that lacks them (Debian's has no lmtp).
  if (name == "smtp") return uint16_t(25);
  if (name == "lmtp") return uint16_t(24);
  return Err("unknown service " + name);
}

Route ParseSpec(std::string_view text) {
  text = Trim(text);
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) return Route{std::string(text), ""};
  return Route{std::string(Trim(text.substr(0, colon))), std::string(Trim(text.substr(colon + 1)))};
}

Result<Nexthop> ParseNexthop(std::string_view text) {
  text = Trim(text);
  if (text.empty()) return Err("empty nexthop");
  if (text.size() > kMaxNexthop) return Err("nexthop too long");
  if (StartsWith(text, "unix:")) {
    Nexthop n;
    n.kind = Nexthop::Kind::kUnix;
    n.path = std::string(text.substr(5));
    if (n.path.empty()) return Err("empty socket path in nexthop");
    return n;
  }
  if (StartsWith(text, "inet:")) text.remove_prefix(5);
  return ParseHostPort(text);
}

Result<Router> Router::Make(Settings s, table::TableList transport_maps) {
  Router r;
  auto dest = Destinations::Make(s.mydestination, s.relay_domains, s.own, s.resolve_numeric_domain);
  if (!dest) return Err(dest.error());
  r.dest_ = std::move(*dest);
  r.dest_.SetVirtual(s.virtual_alias_domains, s.virtual_mailbox_domains);
  r.maps_ = std::move(transport_maps);
  r.s_ = std::move(s);
  return r;
}

Result<Router> Router::FromConfig(const config::Config& cfg) {
  Settings s;
  auto str = [&](std::string_view name, std::string* out) -> Result<void> {
    auto v = cfg.Get(name);
    if (!v) return Err(v.error());
    *out = std::string(Trim(*v));
    return {};
  };
  const std::pair<const char*, std::string*> fields[] = {{"relayhost", &s.relayhost},
                                                         {"default_transport", &s.default_transport},
                                                         {"local_transport", &s.local_transport},
                                                         {"relay_transport", &s.relay_transport},
                                                         {"virtual_transport", &s.virtual_transport},
                                                         {"myhostname", &s.myhostname},
                                                         {"recipient_delimiter", &s.recipient_delimiter}};
  for (auto [name, out] : fields) {
    if (auto r = str(name, out); !r) return Err(r.error());
  }
  auto mydest = cfg.GetList("mydestination");
  if (!mydest) return Err(mydest.error());
  auto relay = cfg.GetList("relay_domains");
  if (!relay) return Err(relay.error());
  s.mydestination = std::move(*mydest);
  s.relay_domains = std::move(*relay);
  for (auto [name, out] : {std::pair{"virtual_alias_domains", &s.virtual_alias_domains},
                           std::pair{"virtual_mailbox_domains", &s.virtual_mailbox_domains}}) {
    auto l = cfg.GetList(name);
    if (!l) return Err(l.error());
    *out = std::move(*l);
  }
  auto numeric = cfg.GetBool("resolve_numeric_domain");
  if (!numeric) return Err(numeric.error());
  s.resolve_numeric_domain = *numeric;
  auto own = OwnAddresses::FromConfig(cfg, true);
  if (!own) return Err(own.error());
  s.own = std::move(*own);
  auto refs = cfg.GetTables("transport_maps");
  if (!refs) return Err(refs.error());
  auto maps = table::TableList::Open(*refs);
  if (!maps) return Err("transport_maps: " + maps.error());
  return Make(std::move(s), std::move(*maps));
}

// transport(5): a result replaces what resolve chose. An empty transport
// keeps it (":[gw]" changes only the nexthop); a transport with an empty
// nexthop sends to the recipient domain, as trivial-rewrite does.
static void Apply(const Route& entry, std::string_view domain, Route* r) {
  if (entry.transport.empty()) {
    if (!entry.nexthop.empty()) r->nexthop = entry.nexthop;
    return;
  }
  r->transport = entry.transport;
  r->nexthop = entry.nexthop.empty() ? std::string(domain) : entry.nexthop;
}

// Search order of transport(5): user+ext@domain, user@domain, domain, its
// parents as .parent, then "*". Pattern tables see only the address, the
// domain and "*" (the others are partial keys, as in Postfix).
Result<bool> Router::Transport(std::string_view address, std::string_view domain, Route* r) {
  std::vector<std::pair<std::string, bool>> keys;  // key, partial
  size_t at = address.rfind('@');
  if (at != std::string_view::npos) {
    std::string local = ToLower(address.substr(0, at));
    std::string full = local + "@" + std::string(domain);
    keys.emplace_back(full, false);
    if (!s_.recipient_delimiter.empty()) {
      size_t d = local.find_first_of(s_.recipient_delimiter);
      if (d != std::string::npos && d > 0) keys.emplace_back(local.substr(0, d) + "@" + std::string(domain), true);
    }
  }
  if (!domain.empty()) {
    keys.emplace_back(domain, false);
    for (size_t dot = domain.find('.'); dot != std::string_view::npos; dot = domain.find('.', dot + 1))
      keys.emplace_back(std::string(domain.substr(dot)), true);
  }
  keys.emplace_back("*", false);
  for (const auto& [k, partial] : keys) {
    auto hit = maps_.Lookup(k, partial);
    if (!hit) return Err("transport_maps: " + hit.error());
    if (!*hit) continue;
    Apply(ParseSpec(**hit), domain, r);
    return true;
  }
  return false;
}

Result<Route> Router::Resolve(std::string_view recipient) {
  std::string_view raw = DomainOf(recipient);
  std::string domain = dest_.Canonical(raw);
  Route r;
  auto cls = dest_.Classify(raw);
  if (!cls) return Err(cls.error());
  if (*cls == Destination::kLocal) {
    r = ParseSpec(s_.local_transport);
    if (r.nexthop.empty()) r.nexthop = s_.myhostname;
  } else if (*cls == Destination::kVirtualAlias) {
    // Not an alias (smtpd refuses these at RCPT): Postfix's error transport.
    r = Route{"error", "5.1.1 User unknown in virtual alias table"};
  } else if (*cls == Destination::kVirtualMailbox) {
    r = ParseSpec(s_.virtual_transport);
    if (r.nexthop.empty()) r.nexthop = domain;
  } else {
    r = ParseSpec(*cls == Destination::kRelay ? s_.relay_transport : s_.default_transport);
    // Precedence: the transport's own nexthop, relayhost, the domain.
    if (r.nexthop.empty()) r.nexthop = s_.relayhost.empty() ? domain : s_.relayhost;
  }
  if (!maps_.empty()) {
    auto t = Transport(recipient, domain, &r);
    if (!t) return Err(t.error());
  }
  if (r.transport.empty()) return Err("no transport for " + std::string(recipient));
  return r;
}

}  // namespace postern::route
