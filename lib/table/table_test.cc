// table/table_test.cc — every table type through the factory, reload after
// a rebuild, and TableList order.
#include "postern/table/table.h"

#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdio>

#include "postern/table/lmdb_file.h"
#include "postern/table/test_util.h"

namespace postern::table {
namespace {

using testing::TempDir;
constexpr Options kNoDelay{true, std::chrono::milliseconds(0)};

std::optional<std::string> Get(Table& t, std::string_view key) {
  auto r = t.Lookup(key);
  EXPECT_TRUE(r.ok()) << r.error();
  return r.ok() ? *r : std::nullopt;
}

void BuildLmdb(const std::string& db, std::vector<std::pair<std::string, std::string>> kv) {
  auto b = LmdbBuilder::Start(db, false);
  ASSERT_TRUE(b.ok()) << b.error();
  for (auto& [k, v] : kv) ASSERT_TRUE((*b)->Put(k, v, false).ok());
  ASSERT_TRUE((*b)->Commit({}).ok());
}

TEST(Table, Inline) {
  auto t = Open("inline:{ Alice=one, { bob = two words } , { carol = with, comma } }");
  ASSERT_TRUE(t.ok()) << t.error();
  EXPECT_EQ(Get(**t, "alice"), "one");
  EXPECT_EQ(Get(**t, "ALICE"), "one");
  EXPECT_EQ(Get(**t, "bob"), "two words");
  EXPECT_EQ(Get(**t, "carol"), "with, comma");
  EXPECT_EQ(Get(**t, "dave"), std::nullopt);
  EXPECT_EQ((*t)->name().substr(0, 7), "inline:");
  EXPECT_FALSE(Open("inline:a=b").ok());
  EXPECT_FALSE(Open("inline:{ novalue }").ok());
  EXPECT_FALSE(Open("inline:{ =x }").ok());
  // As in Postfix, white space separates items: values with spaces need braces.
  EXPECT_FALSE(Open("inline:{ a = b }").ok());
  auto empty = Open("inline:{}");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(Get(**empty, "a"), std::nullopt);
}

TEST(Table, Static) {
  auto t = Open("static:REJECT");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(Get(**t, "anything"), "REJECT");
  auto spaced = Open("static:{ 550 go away }");
  ASSERT_TRUE(spaced.ok());
  EXPECT_EQ(Get(**spaced, "x"), "550 go away");
}

TEST(Table, UnknownTypeAndRelativePath) {
  auto t = Open("mysql:/etc/postern/checks");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error(), "unsupported dictionary type: mysql");
  // hash: (Postfix's default type) is an LMDB file here, as postmap builds it.
  t = Open("hash:/nonexistent/postern/aliases");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().find("/nonexistent/postern/aliases.lmdb"), std::string::npos) << t.error();
  EXPECT_FALSE(Open("lmdb:relative/path").ok());
  EXPECT_FALSE(Open("texthash:relative").ok());
  EXPECT_FALSE(Open("unix:group.byname").ok());
  EXPECT_FALSE(Open("nocolon").ok());
}

TEST(Table, Passwd) {
  auto t = Open("unix:passwd.byname");
  ASSERT_TRUE(t.ok());
  struct passwd* me = getpwuid(getuid());
  ASSERT_NE(me, nullptr);
  std::string name = me->pw_name;
  auto line = Get(**t, name);
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(line->rfind(name + ":", 0), 0u);
  EXPECT_NE(line->find(":" + std::to_string(me->pw_uid) + ":"), std::string::npos);
  EXPECT_EQ(Get(**t, "no-such-user-postern-test"), std::nullopt);
  EXPECT_EQ(Get(**t, ""), std::nullopt);
}

TEST(Table, TexthashReadsAndReloads) {
  TempDir dir;
  std::string f = dir.Write("access", "# test\nUser@Example.COM  OK\nexample.net REJECT no\n");
  auto t = Open("texthash:" + f, kNoDelay);
  ASSERT_TRUE(t.ok()) << t.error();
  EXPECT_EQ(Get(**t, "user@example.com"), "OK");
  EXPECT_EQ(Get(**t, "USER@EXAMPLE.COM"), "OK");
  EXPECT_EQ(Get(**t, "example.net"), "REJECT no");
  dir.Write("access.new", "example.net DISCARD\n");
  ASSERT_EQ(rename(dir.File("access.new").c_str(), f.c_str()), 0);
  EXPECT_EQ(Get(**t, "example.net"), "DISCARD");
  EXPECT_EQ(Get(**t, "user@example.com"), std::nullopt);
  EXPECT_FALSE(Open("texthash:" + dir.File("missing")).ok());
}

TEST(Table, TexthashSeesEditInPlace) {
  TempDir dir;
  std::string f = dir.Write("t", "a 1\n");
  auto t = Open("texthash:" + f, kNoDelay);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(Get(**t, "a"), "1");
  dir.Write("t", "a 22\nb 3\n");  // same inode, new size and mtime
  EXPECT_EQ(Get(**t, "a"), "22");
  EXPECT_EQ(Get(**t, "b"), "3");
  // A vanished file keeps the last good content in service.
  ASSERT_EQ(unlink(f.c_str()), 0);
  EXPECT_EQ(Get(**t, "b"), "3");
}

TEST(Table, TexthashWithoutFolding) {
  TempDir dir;
  std::string f = dir.Write("t", "MiXed yes\n");
  auto t = Open("texthash:" + f, Options{false, std::chrono::milliseconds(0)});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(Get(**t, "MiXed"), "yes");
  EXPECT_EQ(Get(**t, "mixed"), std::nullopt);
}

TEST(Table, LmdbSeesRebuildWithoutReopen) {
  TempDir dir;
  std::string base = dir.File("virtual");
  BuildLmdb(base + ".lmdb", {{"a@example.com", "first"}});
  auto t = Open("lmdb:" + base, kNoDelay);
  ASSERT_TRUE(t.ok()) << t.error();
  EXPECT_EQ(Get(**t, "A@Example.com"), "first");
  BuildLmdb(base + ".lmdb", {{"a@example.com", "second"}, {"b", "new"}});
  EXPECT_EQ(Get(**t, "a@example.com"), "second");
  EXPECT_EQ(Get(**t, "b"), "new");
  // A removed file keeps the last good version in service.
  ASSERT_EQ(unlink((base + ".lmdb").c_str()), 0);
  EXPECT_EQ(Get(**t, "b"), "new");
  EXPECT_FALSE(Open("lmdb:" + dir.File("nothing")).ok());
}

TEST(Table, LmdbRecheckIsRateLimited) {
  TempDir dir;
  std::string base = dir.File("t");
  BuildLmdb(base + ".lmdb", {{"k", "old"}});
  auto t = Open("lmdb:" + base, Options{true, std::chrono::hours(1)});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(Get(**t, "k"), "old");
  BuildLmdb(base + ".lmdb", {{"k", "new"}});
  EXPECT_EQ(Get(**t, "k"), "old");  // not checked again within the interval
}

TEST(Table, CidrReloads) {
  TempDir dir;
  std::string f = dir.Write("clients", "10.0.0.0/8 REJECT\n");
  auto t = Open("cidr:" + f, kNoDelay);
  ASSERT_TRUE(t.ok()) << t.error();
  EXPECT_EQ(Get(**t, "10.9.9.9"), "REJECT");
  EXPECT_EQ(Get(**t, "11.0.0.1"), std::nullopt);
  dir.Write("clients.new", "11.0.0.0/8 OK\n");
  ASSERT_EQ(rename(dir.File("clients.new").c_str(), f.c_str()), 0);
  EXPECT_EQ(Get(**t, "11.0.0.1"), "OK");
}

TEST(TableList, FirstHitWins) {
  auto list = TableList::Open("inline:{a=1}, inline:{a=2, b=2} static:3");
  ASSERT_TRUE(list.ok()) << list.error();
  EXPECT_EQ(list->size(), 3u);
  EXPECT_EQ(**list->Lookup("a"), "1");
  EXPECT_EQ(**list->Lookup("b"), "2");
  EXPECT_EQ(**list->Lookup("c"), "3");
  auto bad = TableList::Open("inline:{a=1}, lmdb:/nonexistent/postern/table");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("lmdb:/nonexistent/postern/table"), std::string::npos);
  TableList none;
  EXPECT_TRUE(none.empty());
  EXPECT_FALSE(none.Lookup("a")->has_value());
}

}  // namespace
}  // namespace postern::table
