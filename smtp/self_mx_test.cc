// smtp/self_mx_test.cc — Postfix's self-MX rules, table-driven.
#include "smtp/self_mx.h"

#include <gtest/gtest.h>

namespace postern::smtp_client {
namespace {

dns::IpAddress Ip(const char* t) { return *dns::IpAddress::Parse(t); }

dns::MxHost Host(const char* name, uint16_t pref, std::vector<dns::IpAddress> addrs) {
  dns::MxHost h;
  h.name = name;
  h.preference = pref;
  h.addresses = std::move(addrs);
  return h;
}

TEST(SelfMx, MxLists) {
  auto own = route::OwnAddresses::Of({Ip("127.0.0.1")}, {Ip("192.0.2.7")});
  struct {
    const char* name;
    std::vector<dns::MxHost> hosts;
    bool self;
    size_t keep;
    const char* dsn;
  } cases[] = {
      {"not us", {Host("a", 10, {Ip("127.0.0.2")}), Host("b", 20, {Ip("127.0.0.3")})}, false, 2, ""},
      {"best MX is us", {Host("a", 10, {Ip("127.0.0.1")}), Host("b", 20, {Ip("127.0.0.3")})}, true, 0, "5.4.6"},
      {"best MX via proxy", {Host("a", 10, {Ip("192.0.2.7")})}, true, 0, "5.4.6"},
      {"IPv4-mapped is us", {Host("a", 10, {Ip("::ffff:127.0.0.1")})}, true, 0, "5.4.6"},
      {"we are the backup", {Host("a", 10, {Ip("127.0.0.2")}), Host("b", 20, {Ip("127.0.0.1")})}, true, 1, ""},
      {"equal preference with us", {Host("a", 10, {Ip("127.0.0.2")}), Host("b", 10, {Ip("127.0.0.1")})}, true, 0,
       "5.4.6"},
      {"primary has no address", {Host("a", 10, {}), Host("b", 20, {Ip("127.0.0.1")})}, true, 1, "4.4.4"},
      {"one of several addresses", {Host("a", 10, {Ip("127.0.0.9"), Ip("127.0.0.1")})}, true, 0, "5.4.6"},
  };
  for (const auto& c : cases) {
    SelfCheck got = CheckMxHosts(c.hosts, own, "example.test");
    EXPECT_EQ(got.found_self, c.self) << c.name;
    EXPECT_EQ(got.keep, c.keep) << c.name;
    EXPECT_EQ(got.dsn, c.dsn) << c.name;
  }
  SelfCheck loop = CheckMxHosts({Host("a", 10, {Ip("127.0.0.1")})}, own, "example.test");
  EXPECT_EQ(loop.reason, "mail for example.test loops back to myself");
  SelfCheck backup = CheckMxHosts({Host("a", 10, {}), Host("b", 20, {Ip("127.0.0.1")})}, own, "example.test");
  EXPECT_EQ(backup.reason, "unable to find primary relay for example.test");
}

TEST(SelfMx, Hosts) {
  auto own = route::OwnAddresses::Of({Ip("127.0.0.1")});
  EXPECT_FALSE(CheckHost({Ip("127.0.0.2")}, own, "127.0.0.2").found_self);
  SelfCheck c = CheckHost({Ip("127.0.0.2"), Ip("127.0.0.1")}, own, "gw.test");
  EXPECT_TRUE(c.found_self);
  EXPECT_EQ(c.dsn, "5.4.6");
  EXPECT_EQ(c.reason, "mail for gw.test loops back to myself");
}

}  // namespace
}  // namespace postern::smtp_client
