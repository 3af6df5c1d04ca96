// queue/committer_test.cc — group commit on a libuv loop: callbacks arrive on
// the loop after the data is durable, concurrent commits share transactions.
#include "postern/queue/committer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace postern::queue {
namespace {

namespace fs = std::filesystem;

class CommitterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = fs::temp_directory_path() / "committer_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    q_ = std::move(*Queue::Open(dir_, Options{}));
    uv_loop_init(&loop_);
  }
  void TearDown() override {
    uv_run(&loop_, UV_RUN_DEFAULT);  // lets closed handles be freed
    uv_loop_close(&loop_);
    q_.reset();
    fs::remove_all(dir_);
  }
  std::unique_ptr<MessageWriter> Message(int i, bool with_rcpt = true) {
    auto w = q_->Begin({});
    EXPECT_TRUE(w.ok());
    EXPECT_TRUE((*w)->Append(std::string(4096, 'a' + i % 26)).ok());
    if (with_rcpt) {
      EXPECT_TRUE((*w)->AddRecipient({"r@example.net", "", 0}).ok());
    }
    return std::move(*w);
  }

  std::string dir_;
  std::unique_ptr<Queue> q_;
  uv_loop_t loop_;
};

TEST_F(CommitterTest, ConcurrentCommitsShareTransactionsAndCompleteOnTheLoop) {
  constexpr int kMessages = 64;
  std::vector<std::unique_ptr<MessageWriter>> ws;
  for (int i = 0; i < kMessages; ++i) ws.push_back(Message(i, i != 7));
  std::thread::id loop_thread = std::this_thread::get_id();
  int ok = 0, failed = 0;
  std::vector<MsgId> committed;
  {
    AsyncCommitter c(q_.get(), &loop_);
    for (auto& w : ws) {
      c.Submit(std::move(w), [&](Outcome<MsgId> r) {
        EXPECT_EQ(std::this_thread::get_id(), loop_thread);
        if (r.ok()) {
          ++ok;
          // Durable and visible by the time we hear of it.
          EXPECT_TRUE(q_->GetMessage(*r).ok());
          committed.push_back(*r);
        } else {
          ++failed;
          EXPECT_EQ(r.code(), Code::kInvalid);
        }
      });
    }
    uv_run(&loop_, UV_RUN_DEFAULT);  // returns once every callback ran
    EXPECT_EQ(ok + failed, kMessages);
    EXPECT_LT(c.batches(), static_cast<uint64_t>(kMessages));
  }
  EXPECT_EQ(ok, kMessages - 1);
  EXPECT_EQ(failed, 1);
  SyncStats s = q_->Syncs();
  EXPECT_LT(s.commit_syncs, static_cast<uint64_t>(kMessages));
  EXPECT_EQ(s.commits, static_cast<uint64_t>(kMessages - 1));
  // 4 KiB bodies ride in the commit: no body file, no body or directory sync.
  EXPECT_EQ(s.inline_bodies, s.commits);
  EXPECT_EQ(s.body_syncs + s.dir_syncs + s.fs_syncs, 0u);
  EXPECT_EQ(q_->GetCounters().messages, static_cast<uint64_t>(kMessages - 1));
}

TEST_F(CommitterTest, DestructorCommitsWhatWasSubmitted) {
  int ok = 0;
  {
    AsyncCommitter c(q_.get(), &loop_);
    for (int i = 0; i < 5; ++i) c.Submit(Message(i), [&](Outcome<MsgId> r) { ok += r.ok(); });
  }  // no uv_run: the destructor finishes the work and runs the callbacks
  EXPECT_EQ(ok, 5);
  EXPECT_EQ(q_->GetCounters().messages, 5u);
}

TEST_F(CommitterTest, AfterBatchRunsOncePerBatchBeforeItsCallbacksAndNotForFailures) {
  int hooks = 0, callbacks = 0, hooks_before_first = -1;
  {
    AsyncCommitter c(q_.get(), &loop_);
    c.SetAfterBatch([&] { ++hooks; });
    for (int i = 0; i < 16; ++i) {
      c.Submit(Message(i), [&](Outcome<MsgId> r) {
        EXPECT_TRUE(r.ok());
        if (callbacks++ == 0) hooks_before_first = hooks;
      });
    }
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(callbacks, 16);
    EXPECT_EQ(hooks_before_first, 1);  // qmgr hears of the batch before its sessions answer
    EXPECT_GE(hooks, 1);
    EXPECT_LE(static_cast<uint64_t>(hooks), c.batches());
    int before = hooks;
    c.Submit(Message(0, false), [&](Outcome<MsgId> r) { EXPECT_FALSE(r.ok()); });
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(hooks, before);  // nothing became durable: nobody to wake
  }
}

TEST_F(CommitterTest, ReaderCheckTimerDoesNotHoldTheLoop) {
  ReaderCheckTimer t(q_.get(), &loop_, 10);
  EXPECT_EQ(uv_run(&loop_, UV_RUN_DEFAULT), 0);  // unreferenced: returns at once
}

}  // namespace
}  // namespace postern::queue
