// queue/committer.h — group commit for an event loop: sessions submit finished
// messages; a background thread commits whatever has gathered as one batch
// (one body sync, one LMDB transaction) and each callback runs on the loop
// thread only after its message is durable.
#pragma once

#include <uv.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "postern/queue/queue.h"

namespace postern::queue {

class AsyncCommitter {
 public:
  using Done = std::function<void(Outcome<MsgId>)>;

  // Must be created and destroyed on the loop's thread; the queue outlives it.
  AsyncCommitter(Queue* q, uv_loop_t* loop, size_t max_batch = 256);
  // Commits what was submitted and runs the remaining callbacks before returning.
  ~AsyncCommitter();
  AsyncCommitter(const AsyncCommitter&) = delete;

  // Loop thread only. `done` runs on the loop thread, after the message is durable or failed.
  void Submit(std::unique_ptr<MessageWriter> w, Done done);

  // Runs once per committed batch that made at least one message durable,
  // before that batch's callbacks (smtpd: one qmgr wake-up per batch, not per message).
  void SetAfterBatch(std::function<void()> fn) { after_batch_ = std::move(fn); }

  uint64_t batches() const { return batches_; }

 private:
  struct Job {
    std::unique_ptr<MessageWriter> writer;
    Done done;
    Status status;
  };
  void Run();
  void Deliver();
  static void OnAsync(uv_async_t* h);

  Queue* q_;
  size_t max_batch_;
  uv_async_t* async_;  // freed in its close callback
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> pending_;   // submitted, not yet in a batch
  std::vector<Job> finished_;  // committed or failed, callback not yet run
  bool stop_ = false;
  size_t outstanding_ = 0;  // loop thread only: submitted, callback not yet run
  uint64_t batches_ = 0;
  std::function<void()> after_batch_;
  std::thread thread_;
};

// Runs Queue::CheckReaders every `interval_ms` on the loop (stale LMDB readers
// of crashed processes otherwise pin old pages and grow the file).
class ReaderCheckTimer {
 public:
  ReaderCheckTimer(Queue* q, uv_loop_t* loop, uint64_t interval_ms = 60000);
  ~ReaderCheckTimer();
  ReaderCheckTimer(const ReaderCheckTimer&) = delete;

 private:
  Queue* q_;
  uv_timer_t* timer_;
};

}  // namespace postern::queue
