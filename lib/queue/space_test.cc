// queue/space_test.cc — smtpd's free-space check follows Postfix's
// smtpd_check_queue/smtpd_check_size; the reserve is given up and restored.
#include "postern/queue/space.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <vector>

#include "postern/queue/queue.h"

namespace postern::queue {
namespace {

TEST(SpaceShortage, RefusesWherePostfixDoes) {
  constexpr uint64_t M = 1 << 20;
  struct Case {
    uint64_t avail, minfree, limit, size;
    bool refused;
  } cases[] = {
      {100 * M, 0, 10 * M, 0, false},       // plenty
      {15 * M, 0, 10 * M, 0, true},         // below 1.5 x message_size_limit
      {16 * M, 0, 10 * M, 0, false},
      {16 * M, 20 * M, 10 * M, 0, true},    // queue_minfree above 1.5 x limit
      {20 * M, 20 * M, 0, 0, true},         // at queue_minfree
      {21 * M, 20 * M, 0, 0, false},
      {100 * M, 0, 0, 0, false},            // no limit, no minfree
      {0, 0, 0, 0, true},                   // nothing left at all
      {30 * M, 0, 0, 20 * M, true},         // declared SIZE over 2/3 of the free space
      {30 * M, 0, 0, 19 * M, false},
      {30 * M, 12 * M, 0, 18 * M, true},    // SIZE over what is left above queue_minfree
  };
  for (const Case& c : cases) {
    std::string why = SpaceShortage(c.avail, c.minfree, c.limit, c.size);
    EXPECT_EQ(!why.empty(), c.refused) << c.avail << " " << c.minfree << " " << c.limit << " " << c.size << ": " << why;
  }
  EXPECT_EQ(SpaceShortage(15 * M, 0, 10 * M, 0), "not enough free space in mail queue: 15728640 bytes < 1.5*message size limit");
}

TEST(QueueReserve, KeptAllocatedWhenThereIsRoom) {
  std::string dir = testing::TempDir() + "reserve-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  Options o;
  o.reserve_size = 1 << 20;
  auto q = Queue::Open(dir, o);
  ASSERT_TRUE(q.ok()) << q.status().message;
  std::string path = dir + "/" + kReserveName;
  EXPECT_FALSE(std::filesystem::exists(path));  // qmgr's KeepReserve makes it
  (*q)->KeepReserve();
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 1 << 20);
  EXPECT_GE(static_cast<uint64_t>(st.st_blocks) * 512, uint64_t{1} << 20);  // allocated, not sparse
  std::filesystem::remove_all(dir);
}

// A queue in a fresh temporary directory, removed at the end.
class CompactTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir() + "compact-" + std::to_string(::getpid());
    std::filesystem::remove_all(dir_);
    auto q = Queue::Open(dir_, Options{});
    ASSERT_TRUE(q.ok()) << q.status().message;
    q_ = std::move(*q);
  }
  void TearDown() override {
    q_.reset();
    std::filesystem::remove_all(dir_);
  }
  MsgId Enqueue(size_t size) {
    auto w = q_->Begin(MessageRecord{});
    EXPECT_TRUE(w.ok());
    EXPECT_TRUE((*w)->Append(std::string(size, 'x')).ok());
    EXPECT_TRUE((*w)->AddRecipient({"r@example.net", "", 0}).ok());
    auto id = q_->Commit(std::move(*w));
    EXPECT_TRUE(id.ok()) << id.status().message;
    return id.ok() ? *id : 0;
  }
  uint64_t FileSize() { return std::filesystem::file_size(dir_ + "/queue.lmdb"); }
  std::string dir_;
  std::unique_ptr<Queue> q_;
};

TEST_F(CompactTest, ADrainedBacklogGivesItsSpaceBackAndTheRestStays) {
  std::vector<MsgId> ids;
  for (int i = 0; i < 600; ++i) ids.push_back(Enqueue(16 * 1024));  // inline bodies: ~10 MB of pages
  for (size_t i = 0; i + 1 < ids.size(); ++i) ASSERT_TRUE(q_->RemoveMessage(ids[i]).ok());
  MsgId kept = ids.back();
  uint64_t before = FileSize();
  CompactReport open = CompactQueueFile(dir_, std::nullopt, 1 << 20);
  EXPECT_FALSE(open.compacted);  // this process has the queue open
  EXPECT_EQ(open.skipped, "the queue is open in another process");

  q_.reset();
  auto usage = ReadFileUsage(dir_);
  ASSERT_TRUE(usage.ok()) << usage.status().message;
  EXPECT_EQ(usage->file_bytes, before);
  EXPECT_LT(usage->used_bytes * 4, before);
  CompactReport r = CompactQueueFile(dir_, std::nullopt, 1 << 20);
  ASSERT_TRUE(r.compacted) << r.skipped;
  EXPECT_EQ(r.before, before);
  EXPECT_EQ(r.after, FileSize());
  EXPECT_LT(r.after * 4, before);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/queue.lmdb.compact"));

  auto q = Queue::Open(dir_, Options{});
  ASSERT_TRUE(q.ok()) << q.status().message;
  q_ = std::move(*q);
  auto body = q_->OpenBody(kept);
  ASSERT_TRUE(body.ok()) << body.status().message;
  EXPECT_EQ(q_->GetCounters().messages, 1u);
  EXPECT_EQ(q_->Envelopes(kept)->size(), 1u);
  Enqueue(100);  // and it takes new mail
  EXPECT_EQ(q_->GetCounters().messages, 2u);

  q_.reset();
  CompactReport again = CompactQueueFile(dir_, std::nullopt, 1 << 20);
  EXPECT_FALSE(again.compacted);  // nothing worth it now
  EXPECT_EQ(again.skipped, "little free space inside");
}

}  // namespace
}  // namespace postern::queue
