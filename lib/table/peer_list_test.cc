// table/peer_list_test.cc — debug_peer_list-style matching: names and their
// subdomains, addresses, networks, tables; bad entries refused.
#include "postern/table/peer_list.h"

#include <gtest/gtest.h>

namespace postern::table {
namespace {

TEST(PeerList, NamesAddressesNetworksTables) {
  auto l = PeerList::Parse({"mx.example", ".relay.test", "192.0.2.7", "10.1.0.0/16", "[2001:db8::]/32",
                            "inline:{ table.example=yes, 198.51.100=yes }"});
  ASSERT_TRUE(l.ok()) << l.error();
  struct {
    const char* name;
    const char* addr;
    bool match;
  } cases[] = {
      {"mx.example", "203.0.113.1", true},       {"MX.Example", "203.0.113.1", true},
      {"a.mx.example", "203.0.113.1", true},     {"xmx.example", "203.0.113.1", false},
      {"relay.test", "203.0.113.1", true},       {"b.relay.test", "203.0.113.1", true},
      {"other.test", "192.0.2.7", true},         {"other.test", "192.0.2.8", false},
      {"other.test", "10.1.200.3", true},        {"other.test", "10.2.0.1", false},
      {"other.test", "2001:db8::25", true},      {"other.test", "2001:db9::25", false},
      {"table.example", "203.0.113.1", true},    {"x.table.example", "203.0.113.1", true},
      {"unknown", "198.51.100.4", true},         {"unknown", "198.51.101.4", false},
  };
  for (const auto& c : cases) EXPECT_EQ(l->Matches(c.name, c.addr), c.match) << c.name << " " << c.addr;
  EXPECT_TRUE(PeerList::Parse({}).value().empty());
}

TEST(PeerList, BadEntriesRefused) {
  EXPECT_FALSE(PeerList::Parse({"10.0.0.1/8"}).ok());  // host bits set
  EXPECT_FALSE(PeerList::Parse({"[192.0.2.1"}).ok());
  EXPECT_FALSE(PeerList::Parse({"nosuchtype:/x"}).ok());
}

}  // namespace
}  // namespace postern::table
