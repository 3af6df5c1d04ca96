// smtpd/policy_server.cc — Postfix's check_*_mx_access, check_*_ns_access and
// check_*_a_access: an access table applied to the MX hosts, name servers or
// addresses of a name the client gave, looked up step by step through Check::dns.
#include <fmt/format.h>

#include "postern/dns/address.h"
#include "postern/log/log.h"
#include "postern/util/strings.h"
#include "smtpd/policy.h"

namespace postern::smtpd {

namespace {

using Found = DnsFact::Result;

enum class ServerType { kMx, kNs, kA };

struct ServerCheck {
  ServerType type;
  Policy::Stage stage;
  bool reverse = false;  // check_reverse_client_hostname_*: the unverified PTR name
};

// check_{client,reverse_client_hostname,helo,sender,recipient}_{mx,ns,a}_access.
std::optional<ServerCheck> ParseServerCheck(std::string_view n) {
  if (!n.starts_with("check_") || !n.ends_with("_access")) return std::nullopt;
  std::string_view mid = n.substr(6, n.size() - 6 - 7);  // e.g. "client_mx"
  size_t us = mid.rfind('_');
  if (us == std::string_view::npos) return std::nullopt;
  std::string_view what = mid.substr(0, us), kind = mid.substr(us + 1);
  ServerCheck sc{};
  if (kind == "mx") sc.type = ServerType::kMx;
  else if (kind == "ns") sc.type = ServerType::kNs;
  else if (kind == "a") sc.type = ServerType::kA;
  else return std::nullopt;
  if (what == "client") sc.stage = Policy::Stage::kClient;
  else if (what == "reverse_client_hostname") sc.stage = Policy::Stage::kClient, sc.reverse = true;
  else if (what == "helo") sc.stage = Policy::Stage::kHelo;
  else if (what == "sender") sc.stage = Policy::Stage::kSender;
  else if (what == "recipient") sc.stage = Policy::Stage::kRecipient;
  else return std::nullopt;
  return sc;
}

const char* TypeName(ServerType t) { return t == ServerType::kMx ? "MX" : t == ServerType::kNs ? "NS" : "A"; }

// The name the check is about: "" when there is none to check.
std::string Subject(const ServerCheck& sc, const Facts& f) {
  auto known = [](std::string_view name) {
    return EqualsIgnoreCase(name, "unknown") ? std::string() : std::string(name);
  };
  auto domain = [](const smtp::Address* a) { return a && !a->null ? a->domain : std::string(); };
  switch (sc.stage) {
    case Policy::Stage::kClient: return known(sc.reverse ? f.reverse_client_name : f.client_name);
    case Policy::Stage::kHelo: return std::string(f.helo);
    case Policy::Stage::kSender: return domain(f.sender);
    case Policy::Stage::kRecipient: return domain(f.recipient);
    case Policy::Stage::kData:
    case Policy::Stage::kEod: break;  // not a check_*_access target
  }
  return "";
}

std::string NormalName(std::string_view d) {
  std::string s = ToLower(d);
  while (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// "[192.0.2.1]" or "[IPv6:2001:db8::1]": the address inside; "" otherwise.
std::string LiteralAddress(std::string_view d) {
  if (d.size() < 3 || d.front() != '[' || d.back() != ']') return "";
  std::string_view in = d.substr(1, d.size() - 2);
  if (in.size() > 5 && EqualsIgnoreCase(in.substr(0, 5), "IPv6:")) in.remove_prefix(5);
  auto ip = dns::IpAddress::Parse(in);
  return ip ? ip->ToString() : "";
}

}  // namespace

bool Policy::IsServerAccess(std::string_view name) { return ParseServerCheck(name).has_value(); }

// As Postfix's check_server_access: the hosts first by name (MX and NS), then
// by each of their addresses, the first match deciding. A domain without MX is
// its own MX host, a name without NS records asks its parent domains, a null
// MX or a name that does not exist decides nothing. A temporary DNS failure
// defers the request (450) unless another restriction rejects it.
Verdict Policy::ServerAccess(const Step& s, const Facts& f, int depth, Check& c) {
  ServerCheck sc = *ParseServerCheck(s.name);
  std::string name = Subject(sc, f);
  if (name.empty()) return {};
  AccessFn access = [&](table::LookupResult r, Verdict* out) {
    if (!r) {
      log::Warning("{}: {}", s.name, r.error());
      *out = Reject(sc.stage, f, 451, "4.3.0", "Temporary lookup failure");
      out->temporary = true;
      return true;
    }
    if (!r->has_value()) return false;
    *out = AccessResult(**r, sc.stage, f, depth, c);
    // Postfix forbids OK here: a name server or MX host is no proof of anything.
    if (out->kind == Verdict::Kind::kPermit && !c.effects.discard) {
      log::Warning("restriction {} returns OK for {}; this is not allowed for security reasons; "
                   "use DUNNO instead of OK if you want to make an exception",
                   s.name, name);
      *out = Verdict{Verdict::Kind::kReject, 451, "4.3.5", "Server configuration error", true};
    }
    return true;
  };
  auto by_address = [&](const std::string& addr, Verdict* out) {
    return access(table::LookupClient(*s.table, "unknown", addr), out);
  };
  auto defer = [&](std::string_view why) {
    log::Warning("Unable to look up {} host for {}: {}", TypeName(sc.type), name, why);
    if (!c.defer_if_permit) c.defer_if_permit = Reject(sc.stage, f, 450, "4.4.3", "Temporary DNS lookup failure");
    return Verdict{};
  };

  std::string domain = name.substr(name.rfind('@') + 1);
  if (domain.starts_with("[")) {
    // An address literal is its own MX host (and its own A record); it has no name server.
    std::string addr = LiteralAddress(domain);
    Verdict v;
    if (sc.type == ServerType::kNs || addr.empty() || !by_address(addr, &v)) return {};
    return v;
  }
  domain = NormalName(domain);
  std::vector<std::string> servers;
  if (sc.type == ServerType::kA) {
    servers.push_back(domain);
  } else if (sc.type == ServerType::kMx) {
    const DnsFact* mx = Fact(c, DnsQuery::Kind::kMxHosts, domain);
    if (!mx || mx->result == Found::kNullMx) return {};
    if (mx->result == Found::kTempFail) return defer(mx->reason);
    servers = mx->result == Found::kFound ? mx->values : std::vector<std::string>{domain};
  } else {
    // No NS records: the parent domain's, up to the last label.
    for (std::string_view d = domain;;) {
      const DnsFact* ns = Fact(c, DnsQuery::Kind::kNsHosts, std::string(d));
      if (!ns) return {};
      if (ns->result == Found::kTempFail) return defer(ns->reason);
      if (ns->result == Found::kFound) {
        servers = ns->values;
        break;
      }
      size_t dot = d.find('.');
      if (dot == std::string_view::npos || dot + 1 == d.size()) {
        log::Warning("Unable to look up NS host for {}: {}", domain, ns->reason);
        return {};
      }
      d = d.substr(dot + 1);
    }
  }
  return CheckServers(s, sc.type == ServerType::kA, servers, name, access, defer, c);
}

// Each server by name (not for check_*_a_access) and by its addresses. A
// lookup not answered yet leaves Check::dns set: the step runs again with it.
Verdict Policy::CheckServers(const Step& s, bool addresses_only, const std::vector<std::string>& servers,
                             const std::string& name, const AccessFn& access,
                             const std::function<Verdict(std::string_view)>& defer, Check& c) {
  auto by_address = [&](const std::string& addr, Verdict* out) {
    return access(table::LookupClient(*s.table, "unknown", addr), out);
  };
  std::vector<std::string> unresolved;
  for (const std::string& server : servers) {
    Verdict v;
    std::string host = NormalName(server);
    if (auto ip = dns::IpAddress::Parse(host)) {
      if (by_address(ip->ToString(), &v)) return v;
      continue;
    }
    if (!addresses_only && access(table::LookupDomain(*s.table, host), &v)) return v;
    const DnsFact* a = Fact(c, DnsQuery::Kind::kAddress, host);
    if (!a) return {};
    if (a->result == Found::kTempFail) {
      defer(a->reason);
      continue;
    }
    if (a->result != Found::kFound) {
      if (!addresses_only) unresolved.push_back(host + ": " + a->reason);
      continue;
    }
    for (const std::string& addr : a->values)
      if (by_address(addr, &v)) return v;
  }
  // Logged once, when every lookup has come back.
  for (const std::string& u : unresolved) log::Warning("Unable to look up host {} for {}: {}", u, name, s.name);
  return {};
}

}  // namespace postern::smtpd
