// dns/address_test.cc — IpAddress forms, and the resolver's options as read
// from dns_servers and inet_protocols.
#include "postern/dns/address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "postern/config/maincf.h"
#include "postern/dns/resolver.h"

namespace postern::dns {
namespace {

TEST(DnsAddress, ParseAndPrint) {
  struct Case {
    const char* in;
    const char* out;  // nullptr: not an address
    int family;
  } cases[] = {
      {"127.0.0.1", "127.0.0.1", AF_INET},
      {"2001:db8::1", "2001:db8::1", AF_INET6},
      {"2001:DB8:0:0:0:0:0:1", "2001:db8::1", AF_INET6},
      {"::ffff:192.0.2.1", "::ffff:192.0.2.1", AF_INET6},
      {"", nullptr, 0},
      {"127.0.0", nullptr, 0},
      {"[::1]", nullptr, 0},
      {"example.test", nullptr, 0},
      {"1.2.3.4 ", nullptr, 0},
      {"1111:2222:3333:4444:5555:6666:7777:8888:9999", nullptr, 0},
  };
  for (const auto& c : cases) {
    auto ip = IpAddress::Parse(c.in);
    if (!c.out) {
      EXPECT_FALSE(ip) << c.in;
      continue;
    }
    ASSERT_TRUE(ip) << c.in;
    EXPECT_EQ(ip->ToString(), c.out);
    EXPECT_EQ(ip->family(), c.family);
  }
  EXPECT_FALSE(IpAddress::Parse(std::string(100, '1')));
}

TEST(DnsAddress, ReverseNames) {
  EXPECT_EQ(IpAddress::Parse("192.0.2.10")->ReverseName(), "10.2.0.192.in-addr.arpa");
  EXPECT_EQ(IpAddress::Parse("2001:db8::567:89ab")->ReverseName(),
            "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
}

TEST(DnsAddress, SockaddrCarriesPort) {
  auto ss = IpAddress::Parse("127.0.0.3")->ToSockaddr(2525);
  auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
  EXPECT_EQ(sin->sin_family, AF_INET);
  EXPECT_EQ(ntohs(sin->sin_port), 2525);
  EXPECT_EQ(ntohl(sin->sin_addr.s_addr), 0x7f000003u);
  auto ss6 = IpAddress::Parse("::1")->ToSockaddr(25);
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss6);
  EXPECT_EQ(sin6->sin6_family, AF_INET6);
  EXPECT_EQ(ntohs(sin6->sin6_port), 25);
  EXPECT_EQ(sin6->sin6_addr.s6_addr[15], 1);
}

TEST(DnsAddress, Ordering) {
  auto a = *IpAddress::Parse("127.0.0.2"), b = *IpAddress::Parse("127.0.0.3");
  EXPECT_TRUE(a < b);
  EXPECT_EQ(a, *IpAddress::Parse("127.0.0.2"));
  EXPECT_NE(*IpAddress::Parse("::"), *IpAddress::Parse("0.0.0.0"));
}

TEST(DnsOptions, ParseServers) {
  struct Case {
    const char* in;
    const char* ip;  // nullptr: rejected
    int port;
  } cases[] = {
      {"127.0.0.1", "127.0.0.1", 53},
      {"127.0.0.1:5353", "127.0.0.1", 5353},
      {"::1", "::1", 53},
      {"2001:db8::53", "2001:db8::53", 53},
      {"[::1]:5353", "::1", 5353},
      {"[::1]", "::1", 53},
      {"127.0.0.1:", nullptr, 0},
      {"127.0.0.1:0", nullptr, 0},
      {"127.0.0.1:65536", nullptr, 0},
      {"127.0.0.1:x", nullptr, 0},
      {"[::1", nullptr, 0},
      {"[::1]5353", nullptr, 0},
      {"dns.example:53", nullptr, 0},
  };
  for (const auto& c : cases) {
    auto r = ResolverOptions::ParseServers({c.in});
    if (!c.ip) {
      EXPECT_FALSE(r.ok()) << c.in;
      continue;
    }
    ASSERT_TRUE(r.ok()) << c.in << ": " << r.error();
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ((*r)[0].ip.ToString(), c.ip);
    EXPECT_EQ((*r)[0].port, c.port);
  }
}

TEST(DnsOptions, ParseProtocols) {
  struct Case {
    std::vector<std::string> in;
    bool ok, v4, v6;
  } cases[] = {
      {{"all"}, true, true, true},
      {{"ipv4"}, true, true, false},
      {{"IPv6"}, true, false, true},
      {{"ipv4", "ipv6"}, true, true, true},
      {{}, false, false, false},
      {{"ipx"}, false, false, false},
  };
  for (const auto& c : cases) {
    ResolverOptions o;
    auto r = ResolverOptions::ParseProtocols(c.in, &o);
    ASSERT_EQ(r.ok(), c.ok);
    if (!c.ok) continue;
    EXPECT_EQ(o.ipv4, c.v4);
    EXPECT_EQ(o.ipv6, c.v6);
  }
}

TEST(DnsOptions, FromMainCf) {
  auto cfg = config::Config::Parse("dns_servers = 127.0.0.1:5353, [::1]:53\ninet_protocols = ipv4\n");
  ASSERT_TRUE(cfg.ok()) << cfg.error();
  auto o = ResolverOptions::FromConfig(*cfg);
  ASSERT_TRUE(o.ok()) << o.error();
  ASSERT_EQ(o->servers.size(), 2u);
  EXPECT_EQ(o->servers[0].port, 5353);
  EXPECT_EQ(o->servers[1].ip.ToString(), "::1");
  EXPECT_TRUE(o->ipv4);
  EXPECT_FALSE(o->ipv6);

  auto defaults = ResolverOptions::FromConfig(*config::Config::Parse(""));
  ASSERT_TRUE(defaults.ok());
  EXPECT_TRUE(defaults->servers.empty());  // /etc/resolv.conf
  EXPECT_TRUE(defaults->ipv4 && defaults->ipv6);

  auto bad = ResolverOptions::FromConfig(*config::Config::Parse("dns_servers = localhost\n"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("dns_servers"), std::string::npos);
}

}  // namespace
}  // namespace postern::dns
