// config/values_test.cc — typed value parsing, table-driven.
#include "postern/config/values.h"

#include <gtest/gtest.h>

namespace postern::config {
namespace {

TEST(Values, Time) {
  struct { const char* in; char unit; long long want; } ok[] = {
      {"10", 's', 10}, {"10s", 's', 10}, {"5m", 's', 300}, {"2h", 's', 7200},
      {"1d", 's', 86400}, {"1w", 's', 604800}, {"3", 'd', 259200}, {"3S", 'd', 3}, {" 7s ", 's', 7}};
  for (auto& t : ok) {
    auto r = ParseTime(t.in, t.unit);
    ASSERT_TRUE(r.ok()) << t.in;
    EXPECT_EQ(r->count(), t.want) << t.in;
  }
  for (const char* bad : {"", "s", "-1s", "1x", "1.5h", "99999999999w"})
    EXPECT_FALSE(ParseTime(bad).ok()) << bad;
}

TEST(Values, Size) {
  EXPECT_EQ(*ParseSize("10240000"), 10240000u);
  EXPECT_EQ(*ParseSize("10k"), 10240u);
  EXPECT_EQ(*ParseSize("2M"), 2u << 20);
  EXPECT_EQ(*ParseSize("1g"), 1u << 30);
  for (const char* bad : {"", "k", "-5", "1t", "1.5m"}) EXPECT_FALSE(ParseSize(bad).ok()) << bad;
}

TEST(Values, Bool) {
  EXPECT_TRUE(*ParseBool("yes"));
  EXPECT_TRUE(*ParseBool("YES"));
  EXPECT_FALSE(*ParseBool("no"));
  EXPECT_FALSE(ParseBool("true").ok());
  EXPECT_FALSE(ParseBool("").ok());
}

TEST(Values, Int) {
  EXPECT_EQ(*ParseInt("-3"), -3);
  EXPECT_EQ(*ParseInt("42"), 42);
  EXPECT_FALSE(ParseInt("4 2").ok());
  EXPECT_FALSE(ParseInt("x").ok());
}

TEST(Values, Tables) {
  auto t = ParseTableList("lmdb:/etc/postern/aliases, texthash:/x cidr:/y");
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->size(), 3u);
  EXPECT_EQ((*t)[0].type, "lmdb");
  EXPECT_EQ((*t)[0].name, "/etc/postern/aliases");
  EXPECT_EQ((*t)[2].ToString(), "cidr:/y");
  for (const char* bad : {"/etc/aliases", ":x", "lmdb:", "LM DB:x"})
    EXPECT_FALSE(ParseTableRef(bad).ok()) << bad;
}

}  // namespace
}  // namespace postern::config
