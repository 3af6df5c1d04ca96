// queue/quarantine_test.cc — the quarantine area: save, list, read, remove,
// the size bound (oldest first), expiry, and headers that cannot be forged.
#include "postern/queue/quarantine.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace postern::queue {
namespace {

class QuarantineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "quarantine-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  static QuarantineEntry Entry(int64_t time) {
    return {"", time, "550 5.7.1 spam", "c.test[127.0.0.2]", "helo.test", "a@b.test", {"x@y.test", "z@y.test"}, 0};
  }
  std::string dir_;
};

TEST_F(QuarantineTest, SaveListReadRemove) {
  Quarantine q(dir_, {1 << 20, 0});
  auto id = q.Save(Entry(100), "Subject: t\r\n\r\nbody\r\n");
  ASSERT_TRUE(id.ok()) << id.error();
  EXPECT_TRUE(Quarantine::IsId(*id));
  auto all = q.List(200);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].id, *id);
  EXPECT_EQ((*all)[0].reason, "550 5.7.1 spam");
  EXPECT_EQ((*all)[0].recipients, (std::vector<std::string>{"x@y.test", "z@y.test"}));
  EXPECT_EQ((*all)[0].size, 20u);
  auto r = q.Read(*id);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->second, "Subject: t\r\n\r\nbody\r\n");
  EXPECT_EQ(r->first.client, "c.test[127.0.0.2]");
  EXPECT_TRUE(q.Remove(*id).ok());
  EXPECT_FALSE(q.Remove(*id).ok());
  EXPECT_FALSE(q.Read(*id).ok());
  EXPECT_FALSE(q.Read("../etc").ok());
  EXPECT_TRUE(q.List(200)->empty());
}

TEST_F(QuarantineTest, SizeLimitDropsTheOldestAndRefusesWhatNeverFits) {
  Quarantine q(dir_, {2000, 0});
  std::string body(600, 'x');
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(q.Save(Entry(100 + i), body).value());
  auto all = q.List(200);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);  // each takes about 700 bytes
  EXPECT_EQ((*all)[0].id, ids[3]);
  EXPECT_EQ((*all)[1].id, ids[4]);
  uint64_t total = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_ + "/quarantine")) total += e.file_size();
  EXPECT_LE(total, 2000u);
  EXPECT_FALSE(q.Save(Entry(200), std::string(2000, 'y')).ok());
  EXPECT_FALSE(Quarantine(dir_, {0, 0}).Save(Entry(200), "x").ok());
}

TEST_F(QuarantineTest, ExpiredEntriesGo) {
  Quarantine q(dir_, {1 << 20, 3600});
  auto old_id = q.Save(Entry(1000), "old").value();
  auto new_id = q.Save(Entry(4000), "new").value();
  auto all = q.List(4700);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].id, new_id);
  EXPECT_FALSE(q.Read(old_id).ok());
}

TEST(QuarantineHeader, LineBreaksCannotAddFields) {
  QuarantineEntry e{"Q0000abcd", 5, "550 x\r\nrecipient: evil@x", "c", "h\nid: Q11111111", "s", {"r@x"}, 0};
  std::string text = FormatQuarantineHeader(e) + "content";
  size_t start = 0;
  auto p = ParseQuarantineHeader(text, &start);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->id, "Q0000abcd");
  EXPECT_EQ(p->reason, "550 x");
  EXPECT_EQ(p->recipients, (std::vector<std::string>{"r@x"}));
  EXPECT_EQ(text.substr(start), "content");
  EXPECT_FALSE(ParseQuarantineHeader("id: Q0000abcd\nno blank line", &start));
}

}  // namespace
}  // namespace postern::queue
