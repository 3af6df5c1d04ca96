// bench/queue_bench.cc — enqueue rate of 4 KiB messages through the group
// committer with 1, 8 and 64 concurrent writers on one libuv loop, and the
// sync system calls each message costs (the point of group commit).
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <uv.h>

#include <filesystem>
#include <functional>
#include <string>

#include "postern/queue/committer.h"
#include "postern/queue/queue.h"

namespace q = postern::queue;

namespace {

std::string TempQueueDir() {
  // A real disk, not tmpfs: syncs must cost what they cost. QUEUE_BENCH_DIR overrides.
  const char* base = getenv("QUEUE_BENCH_DIR");
  std::string tmpl = std::string(base ? base : "/var/tmp") + "/queue_bench.XXXXXX";
  if (!mkdtemp(tmpl.data())) return {};
  return tmpl;
}

void BM_Enqueue4k(benchmark::State& state) {
  const int writers = static_cast<int>(state.range(0));
  std::string dir = TempQueueDir();
  auto opened = q::Queue::Open(dir, q::Options{});
  if (!opened.ok()) {
    state.SkipWithError(opened.status().message.c_str());
    return;
  }
  std::unique_ptr<q::Queue> queue = std::move(*opened);
  const std::string body(4096, 'x');
  uv_loop_t loop;
  uv_loop_init(&loop);
  q::SyncStats before = queue->Syncs();
  int64_t done = 0, failed = 0;
  uint64_t batches = 0;
  for (auto _ : state) {
    // One iteration: every writer commits 4 messages, one after the other.
    int64_t target = done + writers * 4, started = done;
    q::AsyncCommitter committer(queue.get(), &loop);
    std::function<void()> next = [&] {
      if (started >= target) return;
      ++started;
      auto w = queue->Begin(q::MessageRecord{});
      if (!w.ok()) {
        ++failed;
        return;
      }
      (void)(*w)->Append(body);
      (void)(*w)->AddRecipient({"rcpt@example.net", "", 0});
      committer.Submit(std::move(*w), [&](q::Outcome<q::MsgId> r) {
        r.ok() ? ++done : ++failed;
        next();
      });
    };
    for (int i = 0; i < writers; ++i) next();
    uv_run(&loop, UV_RUN_DEFAULT);
    batches += committer.batches();
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  q::SyncStats after = queue->Syncs();
  double msgs = static_cast<double>(done);
  uint64_t syncs = (after.body_syncs - before.body_syncs) + (after.dir_syncs - before.dir_syncs) +
                   (after.fs_syncs - before.fs_syncs) + (after.commit_syncs - before.commit_syncs);
  state.SetItemsProcessed(done);
  state.counters["msgs/s"] = benchmark::Counter(msgs, benchmark::Counter::kIsRate);
  state.counters["syncs/msg"] = syncs / msgs;
  state.counters["lmdb_commits/msg"] = (after.commit_syncs - before.commit_syncs) / msgs;
  state.counters["msgs/batch"] = msgs / static_cast<double>(batches ? batches : 1);
  if (failed) state.SkipWithError("some commits failed");
  queue.reset();
  std::filesystem::remove_all(dir);
}

BENCHMARK(BM_Enqueue4k)->Arg(1)->Arg(8)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
