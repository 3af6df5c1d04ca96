// route/destinations_test.cc — "is this domain mine": names, tables, every
// form of address literal of our own and proxy addresses, dots and case.
#include "postern/route/destinations.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "postern/config/maincf.h"

namespace postern::route {
namespace {

dns::IpAddress Ip(const char* text) { return *dns::IpAddress::Parse(text); }

Destinations Make(bool numeric = false) {
  auto own = OwnAddresses::Of({Ip("127.0.0.1"), Ip("192.0.2.10"), Ip("2001:db8::10")}, {Ip("198.51.100.7")});
  auto d = Destinations::Make({"mx.example.test", "localhost", "inline:{ tabled.test=x }"},
                              {"relay.test", ".sub.test"}, std::move(own), numeric);
  EXPECT_TRUE(d.ok()) << d.error();
  return std::move(*d);
}

TEST(Destinations, ClassifiesEveryForm) {
  struct {
    const char* domain;
    Destination want;
  } cases[] = {
      {"mx.example.test", Destination::kLocal},    {"MX.Example.TEST", Destination::kLocal},
      {"localhost.", Destination::kLocal},          {"localhost..", Destination::kRemote},
      {"tabled.test", Destination::kLocal},         {"a.tabled.test", Destination::kRemote},
      {"", Destination::kLocal},                    {"[127.0.0.1]", Destination::kLocal},
      {"[192.0.2.10]", Destination::kLocal},        {"[192.0.2.10].", Destination::kLocal},
      {"[IPv6:2001:db8::10]", Destination::kLocal}, {"[ipv6:2001:DB8:0::10]", Destination::kLocal},
      {"[IPv6:::ffff:127.0.0.1]", Destination::kLocal}, {"[IPv6:::ffff:7f00:1]", Destination::kLocal},
      {"[198.51.100.7]", Destination::kLocal},      {"[127.0.0.2]", Destination::kRemote},
      {"[127.1]", Destination::kRemote},            {"[2001:db8::10]", Destination::kRemote},
      {"[IPv6:127.0.0.1]", Destination::kRemote},   {"[0177.0.0.1]", Destination::kRemote},
      {"[127.0.0.1", Destination::kRemote},         {"127.0.0.1", Destination::kRemote},
      {"relay.test", Destination::kRelay},          {"a.relay.test", Destination::kRelay},
      {"xrelay.test", Destination::kRemote},        {"sub.test", Destination::kRemote},
      {"a.sub.test", Destination::kRelay},          {"mx.example.test.evil.test", Destination::kRemote},
      {"xn--mx-example-test.test", Destination::kRemote},
  };
  Destinations d = Make();
  for (const auto& c : cases) {
    auto got = d.Classify(c.domain);
    ASSERT_TRUE(got.ok()) << got.error();
    EXPECT_EQ(*got, c.want) << c.domain;
  }
}

TEST(Destinations, ResolveNumericDomain) {
  Destinations off = Make(false);
  EXPECT_TRUE(off.RefusedNumeric("127.0.0.1"));
  EXPECT_TRUE(off.RefusedNumeric("127.0.0.1."));
  EXPECT_FALSE(off.RefusedNumeric("[127.0.0.1]"));
  EXPECT_FALSE(off.RefusedNumeric("1.example"));
  EXPECT_EQ(off.IsMine("127.0.0.1").value(), false);
  Destinations on = Make(true);
  EXPECT_FALSE(on.RefusedNumeric("127.0.0.1"));
  EXPECT_EQ(on.Canonical("192.0.2.1"), "[192.0.2.1]");
  EXPECT_EQ(on.Canonical("2001:db8::10"), "[ipv6:2001:db8::10]");
  EXPECT_EQ(on.IsMine("127.0.0.1").value(), true);
  EXPECT_EQ(on.IsMine("2001:db8::10").value(), true);
  EXPECT_EQ(on.IsMine("192.0.2.1").value(), false);
}

TEST(Destinations, BrokenTableIsAnError) {
  auto d = Destinations::Make({"texthash:/nonexistent/postern/domains"}, {}, OwnAddresses::Of({}), false);
  if (!d.ok()) return;  // tables that fail at open time fail here, also fine
  EXPECT_FALSE(d->IsMine("example.test").ok());
}

TEST(OwnAddresses, LiteralsAndMappedAddresses) {
  EXPECT_EQ(ParseLiteral("[192.0.2.1]"), Ip("192.0.2.1"));
  EXPECT_EQ(ParseLiteral("[IPv6:2001:db8::1]"), Ip("2001:db8::1"));
  EXPECT_FALSE(ParseLiteral("[2001:db8::1]"));
  EXPECT_FALSE(ParseLiteral("[IPv6:192.0.2.1]"));
  EXPECT_FALSE(ParseLiteral("192.0.2.1"));
  EXPECT_FALSE(ParseLiteral("[]"));
  EXPECT_EQ(Unmapped(Ip("::ffff:192.0.2.1")), Ip("192.0.2.1"));
  EXPECT_EQ(Unmapped(Ip("2001:db8::1")), Ip("2001:db8::1"));
  auto o = OwnAddresses::Of({Ip("::ffff:10.0.0.1")}, {Ip("10.0.0.2")});
  EXPECT_TRUE(o.IsInterface(Ip("10.0.0.1")));
  EXPECT_TRUE(o.IsInterface(Ip("::ffff:10.0.0.1")));
  EXPECT_FALSE(o.IsInterface(Ip("10.0.0.2")));
  EXPECT_TRUE(o.IsProxy(Ip("10.0.0.2")));
  EXPECT_TRUE(o.Contains(Ip("10.0.0.2")));
}

TEST(OwnAddresses, FromConfig) {
  auto cfg = config::Config::Parse("inet_interfaces = loopback-only\ninet_protocols = ipv4\n"
                                   "proxy_interfaces = 192.0.2.99\n");
  ASSERT_TRUE(cfg.ok());
  auto o = OwnAddresses::FromConfig(*cfg, false);
  ASSERT_TRUE(o.ok()) << o.error();
  EXPECT_TRUE(o->IsInterface(Ip("127.0.0.1")));
  EXPECT_FALSE(o->IsInterface(Ip("::1")));  // inet_protocols = ipv4
  EXPECT_TRUE(o->IsProxy(Ip("192.0.2.99")));
  cfg = config::Config::Parse("inet_interfaces = all\ninet_protocols = ipv4\n");
  o = OwnAddresses::FromConfig(*cfg, false);
  ASSERT_TRUE(o.ok()) << o.error();
  EXPECT_TRUE(o->IsInterface(Ip("127.0.0.1")));  // lo's address
  EXPECT_FALSE(o->IsInterface(Ip("127.0.0.2")));  // an address, not lo's network
}

TEST(OwnAddresses, MasterCfInetHostsWhenAsked) {
  char tmpl[] = "/tmp/own_addr_testXXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  std::ofstream(dir + "/main.cf") << "inet_interfaces = 127.0.0.1\ninet_protocols = ipv4\n";
  std::ofstream(dir + "/master.cf") << "192.0.2.5:2525 inet n - n - - smtpd\n"
                                       "[198.51.100.9]:26 inet n - n - - smtpd\n"
                                       "2527 inet n - n - - smtpd\nqmgr unix n - n 300 1 qmgr\n";
  auto cfg = config::Config::Load(dir);
  ASSERT_TRUE(cfg.ok()) << cfg.error();
  auto with = OwnAddresses::FromConfig(*cfg, true);
  ASSERT_TRUE(with.ok()) << with.error();
  EXPECT_TRUE(with->IsInterface(Ip("127.0.0.1")));
  EXPECT_TRUE(with->IsInterface(Ip("192.0.2.5")));
  EXPECT_TRUE(with->IsInterface(Ip("198.51.100.9")));
  auto without = OwnAddresses::FromConfig(*cfg, false);
  ASSERT_TRUE(without.ok()) << without.error();
  EXPECT_FALSE(without->IsInterface(Ip("192.0.2.5")));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace postern::route
