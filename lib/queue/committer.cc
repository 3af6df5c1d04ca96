// queue/committer.cc — the group-commit thread. While one batch syncs, new
// submissions pile up in pending_ and form the next batch.
#include "postern/queue/committer.h"

#include <algorithm>

namespace postern::queue {

namespace {
template <class H>
void CloseAndFree(H* h) {
  uv_close(reinterpret_cast<uv_handle_t*>(h), [](uv_handle_t* p) { delete reinterpret_cast<H*>(p); });
}
}  // namespace

AsyncCommitter::AsyncCommitter(Queue* q, uv_loop_t* loop, size_t max_batch)
    : q_(q), max_batch_(max_batch ? max_batch : 1), async_(new uv_async_t) {
  uv_async_init(loop, async_, &AsyncCommitter::OnAsync);
  async_->data = this;
  // Referenced only while commits are outstanding, so an idle committer lets uv_run return.
  uv_unref(reinterpret_cast<uv_handle_t*>(async_));
  thread_ = std::thread([this] { Run(); });
}

AsyncCommitter::~AsyncCommitter() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
  Deliver();
  async_->data = nullptr;
  CloseAndFree(async_);
}

void AsyncCommitter::Submit(std::unique_ptr<MessageWriter> w, Done done) {
  bool stopped;
  {
    std::lock_guard lk(mu_);
    stopped = stop_;
    if (!stopped) pending_.push_back(Job{std::move(w), std::move(done), {}});
  }
  if (stopped) {  // a callback run by the destructor submitted more: refuse it
    w->Abort();
    done(Fail(Code::kIo, "queue committer is shutting down"));
    return;
  }
  if (outstanding_++ == 0) uv_ref(reinterpret_cast<uv_handle_t*>(async_));
  cv_.notify_one();
}

void AsyncCommitter::Run() {
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [this] { return stop_ || !pending_.empty(); });
    if (pending_.empty()) return;  // stopping, nothing left
    std::vector<Job> batch;
    while (!pending_.empty() && batch.size() < max_batch_) {
      batch.push_back(std::move(pending_.front()));
      pending_.pop_front();
    }
    lk.unlock();
    std::vector<MessageWriter*> writers;
    for (Job& j : batch) writers.push_back(j.writer.get());
    std::vector<Status> st = q_->CommitBatch(writers);
    for (size_t i = 0; i < batch.size(); ++i) batch[i].status = std::move(st[i]);
    lk.lock();
    ++batches_;
    for (Job& j : batch) finished_.push_back(std::move(j));
    uv_async_send(async_);
  }
}

void AsyncCommitter::OnAsync(uv_async_t* h) {
  if (h->data) static_cast<AsyncCommitter*>(h->data)->Deliver();
}

void AsyncCommitter::Deliver() {
  std::vector<Job> done;
  {
    std::lock_guard lk(mu_);
    done.swap(finished_);
  }
  outstanding_ -= done.size();
  if (outstanding_ == 0 && !done.empty()) uv_unref(reinterpret_cast<uv_handle_t*>(async_));
  if (after_batch_ && std::any_of(done.begin(), done.end(), [](const Job& j) { return j.status.ok(); })) {
    after_batch_();
  }
  for (Job& j : done) {
    MsgId id = j.writer->id();
    j.writer.reset();
    if (j.status.ok()) j.done(id);
    else j.done(std::move(j.status));
  }
}

ReaderCheckTimer::ReaderCheckTimer(Queue* q, uv_loop_t* loop, uint64_t interval_ms)
    : q_(q), timer_(new uv_timer_t) {
  uv_timer_init(loop, timer_);
  timer_->data = this;
  uv_timer_start(
      timer_, [](uv_timer_t* t) { static_cast<ReaderCheckTimer*>(t->data)->q_->CheckReaders(); },
      interval_ms, interval_ms);
  // A housekeeping timer must not keep the loop alive on its own.
  uv_unref(reinterpret_cast<uv_handle_t*>(timer_));
}

ReaderCheckTimer::~ReaderCheckTimer() {
  uv_timer_stop(timer_);
  CloseAndFree(timer_);
}

}  // namespace postern::queue
