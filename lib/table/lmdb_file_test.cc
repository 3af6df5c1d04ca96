// table/lmdb_file_test.cc — building, copying and reading FILE.lmdb files.
#include "postern/table/lmdb_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "postern/table/test_util.h"

namespace postern::table {
namespace {

using testing::TempDir;

TEST(LmdbFile, BuildAndRead) {
  TempDir dir;
  std::string db = dir.File("t.lmdb");
  auto b = LmdbBuilder::Start(db, false);
  ASSERT_TRUE(b.ok()) << b.error();
  EXPECT_TRUE(*(*b)->Put("a", "1", false));
  EXPECT_FALSE(*(*b)->Put("a", "2", false));  // first wins
  EXPECT_TRUE(*(*b)->Put("b", "", false));
  EXPECT_FALSE((*b)->Put("", "x", false).ok());
  EXPECT_FALSE((*b)->Put(std::string(512, 'x'), "x", false).ok());
  ASSERT_TRUE((*b)->Commit({0640, {}, {}}).ok());
  b->reset();
  struct stat st {};
  ASSERT_EQ(stat(db.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  EXPECT_FALSE(std::filesystem::exists(db + "-lock"));
  // Only the database is left behind: no temp file, no lock file.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);

  auto f = LmdbFile::Open(db);
  ASSERT_TRUE(f.ok()) << f.error();
  EXPECT_EQ(**f->Get("a"), "1");
  EXPECT_EQ(**f->Get("b"), "");
  EXPECT_FALSE(f->Get("c")->has_value());
  std::vector<std::string> all;
  ASSERT_TRUE(f->ForEach([&](auto k, auto v) {
                 all.push_back(std::string(k) + "=" + std::string(v));
                 return true;
               }).ok());
  EXPECT_EQ(all, (std::vector<std::string>{"a=1", "b="}));
}

TEST(LmdbFile, CopyExistingThenEdit) {
  TempDir dir;
  std::string db = dir.File("t.lmdb");
  {
    auto b = LmdbBuilder::Start(db, true);  // missing file: empty start
    ASSERT_TRUE(b.ok()) << b.error();
    ASSERT_TRUE(*(*b)->Put("keep", "k", false));
    ASSERT_TRUE(*(*b)->Put("gone", "g", false));
    ASSERT_TRUE((*b)->Commit({}).ok());
  }
  auto before = LmdbFile::Open(db);
  ASSERT_TRUE(before.ok());
  {
    auto b = LmdbBuilder::Start(db, true);
    ASSERT_TRUE(b.ok()) << b.error();
    EXPECT_TRUE(*(*b)->Remove("gone"));
    EXPECT_FALSE(*(*b)->Remove("never"));
    EXPECT_TRUE(*(*b)->Put("keep", "new", true));
    ASSERT_TRUE((*b)->Commit({}).ok());
  }
  auto after = LmdbFile::Open(db);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(**after->Get("keep"), "new");
  EXPECT_FALSE(after->Get("gone")->has_value());
  // A reader of the old file still sees the old version (it was replaced, not edited).
  EXPECT_EQ(**before->Get("gone"), "g");
  EXPECT_FALSE(before->stamp() == after->stamp());
}

TEST(LmdbFile, AbandonedBuildLeavesOldFile) {
  TempDir dir;
  std::string db = dir.File("t.lmdb");
  {
    auto b = LmdbBuilder::Start(db, false);
    ASSERT_TRUE(*(*b)->Put("a", "1", false));
    ASSERT_TRUE((*b)->Commit({}).ok());
  }
  {
    auto b = LmdbBuilder::Start(db, false);
    ASSERT_TRUE(*(*b)->Put("a", "2", false));
  }  // no Commit
  EXPECT_EQ(**LmdbFile::Open(db)->Get("a"), "1");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
}

TEST(LmdbFile, GrowsWhenMapIsFull) {
  TempDir dir;
  std::string db = dir.File("big.lmdb");
  auto b = LmdbBuilder::Start(db, false, 64 << 10);  // a tiny 64 KiB map
  ASSERT_TRUE(b.ok()) << b.error();
  const std::string value(200, 'v');
  for (int i = 0; i < 30000; ++i)
    ASSERT_TRUE(*(*b)->Put("key" + std::to_string(i), value, false)) << i;
  ASSERT_TRUE((*b)->Commit({}).ok());
  auto f = LmdbFile::Open(db);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(**f->Get("key0"), value);
  EXPECT_EQ(**f->Get("key29999"), value);
  size_t n = 0;
  ASSERT_TRUE(f->ForEach([&](auto, auto) { return ++n, true; }).ok());
  EXPECT_EQ(n, 30000u);
}

TEST(LmdbFile, OpenErrors) {
  TempDir dir;
  EXPECT_FALSE(LmdbFile::Open(dir.File("missing.lmdb")).ok());
  dir.Write("junk.lmdb", "this is not an lmdb file at all, just some text");
  EXPECT_FALSE(LmdbFile::Open(dir.File("junk.lmdb")).ok());
  EXPECT_FALSE(LmdbBuilder::Start(dir.File("nodir/x.lmdb"), false).ok());
}

}  // namespace
}  // namespace postern::table
