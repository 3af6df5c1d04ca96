// route/route_test.cc — table-driven checks of recipient routing (resolve
// classes, relayhost, transport(5) search order and results) and of nexthop syntax.
#include "postern/route/route.h"

#include <gtest/gtest.h>

namespace postern::route {
namespace {

Settings Base() {
  Settings s;
  s.mydestination = {"mx.postern.test", "localhost", "local.test"};
  s.relay_domains = {"relayed.test"};
  s.default_transport = "smtp";
  s.local_transport = "local:mx.postern.test";
  s.relay_transport = "relay";
  s.myhostname = "mx.postern.test";
  s.recipient_delimiter = "+";
  s.own = OwnAddresses::Of({*dns::IpAddress::Parse("127.0.0.1"), *dns::IpAddress::Parse("::1")});
  return s;
}

struct Case {
  const char* name;
  const char* relayhost;
  const char* maps;  // transport_maps, "" = none
  const char* recipient;
  Route want;
};

TEST(Router, Resolves) {
  const char* kMaps =
      "inline:{ user@special.test=lmtp:unix:/run/lmtp, special.test=smtp:[10.0.0.1]:2525, "
      ".sub.test=relay:, kept.test=:[gw.test], local.test=smtp:, bare.test=smtp }";
  const Case cases[] = {
      {"remote default", "", "", "u@example.com", {"smtp", "example.com"}},
      {"remote case folded", "", "", "U@Example.COM.", {"smtp", "example.com"}},
      {"local domain", "", "", "u@mx.postern.test", {"local", "mx.postern.test"}},
      {"no domain is local", "", "", "postmaster", {"local", "mx.postern.test"}},
      {"relay domain", "", "", "u@relayed.test", {"relay", "relayed.test"}},
      {"relay subdomain", "", "", "u@a.relayed.test", {"relay", "a.relayed.test"}},
      {"mydestination has no subdomains", "", "", "u@a.local.test", {"smtp", "a.local.test"}},
      {"relayhost for remote", "[gw.test]:2525", "", "u@example.com", {"smtp", "[gw.test]:2525"}},
      {"relayhost for relay domains", "[gw.test]", "", "u@relayed.test", {"relay", "[gw.test]"}},
      {"relayhost not for local", "[gw.test]", "", "u@localhost", {"local", "mx.postern.test"}},
      {"map: full address first", "", kMaps, "user@special.test", {"lmtp", "unix:/run/lmtp"}},
      {"map: extension falls back to user@", "", kMaps, "user+tag@special.test", {"lmtp", "unix:/run/lmtp"}},
      {"map: domain", "", kMaps, "other@special.test", {"smtp", "[10.0.0.1]:2525"}},
      {"map: parent as .domain", "", kMaps, "u@a.b.sub.test", {"relay", "a.b.sub.test"}},
      {"map: .domain is not the domain", "", kMaps, "u@sub.test", {"smtp", "sub.test"}},
      {"map: empty transport keeps it", "[relay.test]", kMaps, "u@kept.test", {"smtp", "[gw.test]"}},
      {"map: empty nexthop is the domain", "[relay.test]", kMaps, "u@local.test", {"smtp", "local.test"}},
      {"map: no colon, nexthop the domain", "", kMaps, "u@bare.test", {"smtp", "bare.test"}},
      {"map: miss keeps relayhost", "[relay.test]", kMaps, "u@example.com", {"smtp", "[relay.test]"}},
      {"map: wildcard", "", "inline:{ *=smtp:[catch.test] }", "u@example.com", {"smtp", "[catch.test]"}},
      {"own literal is local", "[gw.test]", "", "root@[127.0.0.1]", {"local", "mx.postern.test"}},
      {"own IPv6 literal is local", "[gw.test]", "", "root@[IPv6:::1]", {"local", "mx.postern.test"}},
      {"IPv4-mapped own literal is local", "[gw.test]", "", "root@[ipv6:::FFFF:127.0.0.1]", {"local", "mx.postern.test"}},
      {"own literal, trailing dot", "[gw.test]", "", "root@[127.0.0.1].", {"local", "mx.postern.test"}},
      {"other literal is remote", "", "", "u@[127.0.0.2]", {"smtp", "[127.0.0.2]"}},
      {"other IPv6 literal is remote", "", "", "u@[IPv6:2001:db8::1]", {"smtp", "[ipv6:2001:db8::1]"}},
      {"untagged IPv6 literal is not ours", "[gw.test]", "", "u@[::1]", {"smtp", "[gw.test]"}},
      {"one trailing dot is ours", "", "", "u@LocalHost.", {"local", "mx.postern.test"}},
      {"two trailing dots are not", "[gw.test]", "", "u@localhost..", {"smtp", "[gw.test]"}},
      {"numeric domain is a name", "[gw.test]", "", "u@127.0.0.1", {"smtp", "[gw.test]"}},
      {"map: wildcard for local too", "", "inline:{ *=lmtp:unix:/x }", "u@localhost", {"lmtp", "unix:/x"}},
  };
  for (const Case& c : cases) {
    Settings s = Base();
    s.relayhost = c.relayhost;
    table::TableList maps;
    if (*c.maps) {
      auto m = table::TableList::Open(c.maps);
      ASSERT_TRUE(m.ok()) << c.name << ": " << m.error();
      maps = std::move(*m);
    }
    auto r = Router::Make(s, std::move(maps));
    ASSERT_TRUE(r.ok()) << c.name << ": " << r.error();
    auto got = r->Resolve(c.recipient);
    ASSERT_TRUE(got.ok()) << c.name << ": " << got.error();
    EXPECT_EQ(got->transport, c.want.transport) << c.name;
    EXPECT_EQ(got->nexthop, c.want.nexthop) << c.name;
  }
}

TEST(Router, NumericDomainUnderResolveNumericDomain) {
  Settings s = Base();
  s.resolve_numeric_domain = true;
  auto r = Router::Make(s, {});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->Resolve("root@127.0.0.1").value(), (Route{"local", "mx.postern.test"}));
  EXPECT_EQ(r->Resolve("u@192.0.2.1").value(), (Route{"smtp", "[192.0.2.1]"}));
}

TEST(Router, TransportWithNexthopInDefaults) {
  Settings s = Base();
  s.default_transport = "smtp:[smarthost.test]:587";
  s.relayhost = "[ignored.test]";
  auto r = Router::Make(s, {});
  ASSERT_TRUE(r.ok());
  auto got = r->Resolve("u@example.com");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, (Route{"smtp", "[smarthost.test]:587"}));
}

TEST(Router, VirtualDomainClasses) {
  Settings s = Base();
  s.virtual_mailbox_domains = {"vbox.test", "inline:{ vtable.test=1 }", "local.test"};
  s.virtual_alias_domains = {"valias.test"};
  s.virtual_transport = "lmtp:unix:private/dovecot-lmtp";
  s.relay_domains = {"relayed.test", "vbox.test"};
  auto r = Router::Make(s, {});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->Resolve("u@vbox.test").value(), (Route{"lmtp", "unix:private/dovecot-lmtp"}));
  EXPECT_EQ(r->Resolve("u@VTable.test").value(), (Route{"lmtp", "unix:private/dovecot-lmtp"}));
  EXPECT_EQ(r->Resolve("u@local.test").value(), (Route{"local", "mx.postern.test"}));  // mydestination first
  EXPECT_EQ(r->Resolve("u@valias.test").value(), (Route{"error", "5.1.1 User unknown in virtual alias table"}));
  EXPECT_EQ(r->Resolve("u@sub.vbox.test").value(), (Route{"relay", "sub.vbox.test"}));  // no parent matching
  s.virtual_transport = "virtual";
  auto v = Router::Make(s, {});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->Resolve("u@vbox.test").value(), (Route{"virtual", "vbox.test"}));
}

TEST(Router, UnreadableVirtualDomainTableIsATemporaryError) {
  Settings s = Base();
  s.virtual_alias_domains = {"lmdb:/nonexistent/postern-virtual"};
  auto r = Router::Make(s, {});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->Resolve("u@mx.postern.test").value(), (Route{"local", "mx.postern.test"}));
  EXPECT_FALSE(r->Resolve("u@example.com").ok());
}

TEST(Route, ParseSpec) {
  const std::pair<const char*, Route> cases[] = {
      {"smtp", {"smtp", ""}},
      {"smtp:", {"smtp", ""}},
      {":[gw]", {"", "[gw]"}},
      {"lmtp:unix:/path/sock", {"lmtp", "unix:/path/sock"}},
      {"lmtp:inet:host:24", {"lmtp", "inet:host:24"}},
      {" relay:[h]:25 ", {"relay", "[h]:25"}},
  };
  for (const auto& [text, want] : cases) EXPECT_EQ(ParseSpec(text), want) << text;
}

TEST(Route, ParseNexthop) {
  using K = Nexthop::Kind;
  struct C {
    const char* text;
    bool ok;
    Nexthop want;
  };
  const C cases[] = {
      {"example.com", true, {K::kDomain, "example.com", 0, ""}},
      {"example.com:2525", true, {K::kDomain, "example.com", 2525, ""}},
      {"[mx.example]", true, {K::kHost, "mx.example", 0, ""}},
      {"[127.0.0.1]:10025", true, {K::kHost, "127.0.0.1", 10025, ""}},
      {"[::1]:24", true, {K::kHost, "::1", 24, ""}},
      {"inet:127.0.0.1:24", true, {K::kDomain, "127.0.0.1", 24, ""}},
      {"inet:[127.0.0.1]:24", true, {K::kHost, "127.0.0.1", 24, ""}},
      {"unix:/run/lmtp.sock", true, {K::kUnix, "", 0, "/run/lmtp.sock"}},
      {"[h]:smtp", true, {K::kHost, "h", 25, ""}},
      {"[h]:lmtp", true, {K::kHost, "h", 24, ""}},
      {"::1", true, {K::kDomain, "::1", 0, ""}},
      {"", false, {}},
      {"[]:25", false, {}},
      {"[h", false, {}},
      {"[h]x", false, {}},
      {"h:0", false, {}},
      {"h:65536", false, {}},
      {"h:no-such-service-here", false, {}},
      {"unix:", false, {}},
  };
  for (const C& c : cases) {
    auto got = ParseNexthop(c.text);
    EXPECT_EQ(got.ok(), c.ok) << c.text;
    if (got.ok() && c.ok) {
      EXPECT_EQ(*got, c.want) << c.text;
    }
  }
  EXPECT_FALSE(ParseNexthop(std::string(2000, 'a')).ok());
}

}  // namespace
}  // namespace postern::route
