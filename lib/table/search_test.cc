// table/search_test.cc — access(5) search orders: which key answers first.
#include <gtest/gtest.h>

#include "postern/table/table.h"

namespace postern::table {
namespace {

// Each key maps to itself, so the answer names the key that matched.
TableList Keys(std::initializer_list<const char*> keys) {
  std::string spec = "inline:{";
  for (const char* k : keys) spec += std::string(" ") + k + "=" + k + ",";
  spec += "}";
  auto list = TableList::Open(spec);
  EXPECT_TRUE(list.ok()) << list.error();
  return std::move(*list);
}

std::string Hit(const LookupResult& r) { return r.ok() && r->has_value() ? **r : "-"; }

TEST(Search, AddressOrder) {
  struct {
    std::initializer_list<const char*> keys;
    const char* address;
    const char* want;
  } cases[] = {
      {{"user@", "example.com", "user@example.com"}, "user@example.com", "user@example.com"},
      {{"user@", "example.com"}, "user@example.com", "example.com"},
      {{"user@"}, "user@example.com", "user@"},
      {{"user@", "example.com"}, "user@sub.example.com", "example.com"},
      {{".example.com"}, "user@sub.example.com", "-"},  // parent style is the default
      {{"user@example.com", "user+ext@"}, "user+ext@example.com", "user@example.com"},
      {{"user+ext@", "user@"}, "user+ext@example.com", "user+ext@"},
      {{"user@"}, "user+ext@example.com", "user@"},
      {{"postmaster"}, "postmaster", "postmaster"},
      {{"postmaster@"}, "postmaster", "postmaster@"},
      {{"com"}, "a@[192.0.2.1]", "-"},
      {{"[192.0.2.1]"}, "a@[192.0.2.1]", "[192.0.2.1]"},
      {{"other"}, "user@example.com", "-"},
  };
  for (const auto& c : cases) {
    TableList list = Keys(c.keys);
    EXPECT_EQ(Hit(LookupAddress(list, c.address, {"+", true})), c.want) << c.address;
  }
}

TEST(Search, NoDelimiterMeansNoExtension) {
  TableList list = Keys({"user@example.com"});
  EXPECT_EQ(Hit(LookupAddress(list, "user+ext@example.com")), "-");
  EXPECT_EQ(Hit(LookupAddress(list, "user-ext@example.com", {"+-", true})), "user@example.com");
}

TEST(Search, DotStyleParents) {
  TableList list = Keys({".example.com", "example.com"});
  AddressSearch dot{"", false};
  EXPECT_EQ(Hit(LookupAddress(list, "u@a.b.example.com", dot)), ".example.com");
  EXPECT_EQ(Hit(LookupAddress(list, "u@example.com", dot)), "example.com");
  EXPECT_EQ(Hit(LookupDomain(list, "b.example.com", false)), ".example.com");
  EXPECT_EQ(Hit(LookupDomain(list, "b.example.com", true)), "example.com");
}

TEST(Search, ClientOrder) {
  struct {
    std::initializer_list<const char*> keys;
    const char* name;
    const char* addr;
    const char* want;
  } cases[] = {
      {{"mail.example.com", "192.0.2.1"}, "mail.example.com", "192.0.2.1", "mail.example.com"},
      {{"example.com", "192.0.2.1"}, "mail.example.com", "192.0.2.1", "example.com"},
      {{"192.0.2.1", "192.0.2"}, "mail.example.com", "192.0.2.1", "192.0.2.1"},
      {{"192.0.2", "192"}, "mail.example.com", "192.0.2.1", "192.0.2"},
      {{"192.0"}, "unknown", "192.0.2.1", "192.0"},
      {{"192"}, "", "192.0.2.1", "192"},
      {{"unknown"}, "unknown", "192.0.2.1", "-"},
      {{"2001:db8"}, "unknown", "2001:db8::1", "2001:db8"},
      {{"2001:db8::1"}, "unknown", "2001:db8::1", "2001:db8::1"},
      {{"10"}, "unknown", "192.0.2.1", "-"},
  };
  for (const auto& c : cases) {
    TableList list = Keys(c.keys);
    EXPECT_EQ(Hit(LookupClient(list, c.name, c.addr)), c.want) << c.name << " " << c.addr;
  }
}

// A table whose every lookup fails, like an unreadable file.
class Broken : public Table {
 public:
  Broken() : Table("broken:x") {}
  LookupResult Find(std::string_view) override { return Err("read error"); }
};

TEST(Search, ErrorStopsTheSearch) {
  // A failing table must not let a later, more general key answer instead.
  TableList list;
  list.Add(std::make_unique<Broken>());
  auto t = Open("inline:{ example.com=OK }");
  ASSERT_TRUE(t.ok());
  list.Add(std::move(*t));
  auto r = LookupAddress(list, "u@example.com");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "broken:x: read error");
  EXPECT_FALSE(LookupClient(list, "host.example.com", "192.0.2.1").ok());
}

}  // namespace
}  // namespace postern::table
