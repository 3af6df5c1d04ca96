// bench/queue_bench.cc — enqueue rate of 4 KiB messages through the group
// committer with 1, 8 and 64 concurrent writers on one libuv loop, and the
// sync system calls each message costs (the point of group commit); a
// message's whole queue life (in, then out) by body size and inline limit;
// qmgr's start-up recovery of a deep queue.
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <uv.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

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

// Commits `count` messages of `body` through the group committer, `writers`
// at a time; their ids go to *ids when given. False when any failed.
bool EnqueueRound(q::Queue* queue, uv_loop_t* loop, int writers, int64_t count, const std::string& body,
                  uint64_t* batches, std::vector<q::MsgId>* ids = nullptr) {
  int64_t started = 0, failed = 0;
  q::AsyncCommitter committer(queue, loop);
  std::function<void()> next = [&] {
    if (started >= count) return;
    ++started;
    auto w = queue->Begin(q::MessageRecord{});
    if (!w.ok()) {
      ++failed;
      return;
    }
    (void)(*w)->Append(body);
    (void)(*w)->AddRecipient({"rcpt@example.net", "", 0});
    committer.Submit(std::move(*w), [&](q::Outcome<q::MsgId> r) {
      if (!r.ok()) ++failed;
      else if (ids) ids->push_back(*r);
      next();
    });
  };
  for (int i = 0; i < writers; ++i) next();
  uv_run(loop, UV_RUN_DEFAULT);
  *batches += committer.batches();
  return failed == 0;
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
  int64_t done = 0;
  bool failed = false;
  uint64_t batches = 0;
  for (auto _ : state) {
    // One iteration: every writer commits 4 messages, one after the other.
    failed |= !EnqueueRound(queue.get(), &loop, writers, writers * 4, body, &batches);
    done += writers * 4;
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

// The inline limit (Options::inline_body_max) by measurement: a message's
// whole life in the queue — 8 writers commit it, qmgr's RemoveMany takes it
// out (its body file unlinked, or its LMDB overflow pages freed for reuse) —
// for body sizes on both sides of 4, 32 and 128 KiB.
// The queue in `dir`, or null with the benchmark skipped.
std::unique_ptr<q::Queue> OpenOrSkip(benchmark::State& state, const std::string& dir, const q::Options& o) {
  auto opened = q::Queue::Open(dir, o);
  if (opened.ok()) return std::move(*opened);
  state.SkipWithError(opened.status().message.c_str());
  return nullptr;
}

void BM_QueueLife(benchmark::State& state) {
  const size_t limit = static_cast<size_t>(state.range(0)) * 1024;
  const std::string body(static_cast<size_t>(state.range(1)) * 1024, 'x');
  std::string dir = TempQueueDir();
  q::Options o;
  o.inline_body_max = limit;
  std::unique_ptr<q::Queue> queue = OpenOrSkip(state, dir, o);
  if (!queue) return;
  uv_loop_t loop;
  uv_loop_init(&loop);
  int64_t done = 0;
  bool failed = false;
  uint64_t batches = 0;
  for (auto _ : state) {
    std::vector<q::MsgId> ids;
    failed |= !EnqueueRound(queue.get(), &loop, 8, 64, body, &batches, &ids);
    std::vector<q::EnvId> envs;
    for (q::MsgId id : ids) {
      auto of = queue->Envelopes(id);  // kept: the loop must not range over a temporary's contents
      if (!of.ok()) failed = true;
      else
        for (const q::Envelope& e : *of) envs.push_back(e.id);
    }
    for (const q::Status& r : queue->RemoveMany(envs)) failed |= !r.ok();  // one commit, as qmgr's loop turn
    done += 64;
  }
  uv_loop_close(&loop);
  state.SetItemsProcessed(done);
  state.SetBytesProcessed(done * static_cast<int64_t>(body.size()));
  state.counters["msgs/s"] = benchmark::Counter(static_cast<double>(done), benchmark::Counter::kIsRate);
  state.counters["inline"] = body.size() <= limit ? 1 : 0;
  if (failed) state.SkipWithError("some commits failed");
  queue.reset();
  std::filesystem::remove_all(dir);
}

// qmgr's start-up recovery with state.range(0) messages queued (4 KiB
// bodies, inline): the timed one is the same boot, as a reload or a crash
// restart sees it; all_ms is the full check after a system restart
// (BodyCheck::kAll, what every start did before).
void BM_Recover(benchmark::State& state) {
  const int64_t n = state.range(0);
  std::string dir = TempQueueDir();
  std::unique_ptr<q::Queue> queue = OpenOrSkip(state, dir, q::Options{});
  if (!queue) return;
  uv_loop_t loop;
  uv_loop_init(&loop);
  uint64_t batches = 0;
  bool failed = !EnqueueRound(queue.get(), &loop, 64, n, std::string(4096, 'x'), &batches);
  uv_loop_close(&loop);
  auto t0 = std::chrono::steady_clock::now();
  q::RecoveryReport all = queue->Recover(q::Queue::BodyCheck::kAll);  // also marks this boot checked
  double all_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  int checked = 0;
  for (auto _ : state) checked = queue->Recover().bodies_checked;
  state.counters["bodies_checked"] = checked;
  state.counters["all_checked"] = all.bodies_checked;
  state.counters["all_ms"] = all_ms;
  if (failed) state.SkipWithError("some commits failed");
  queue.reset();
  std::filesystem::remove_all(dir);
}

BENCHMARK(BM_Enqueue4k)->Arg(1)->Arg(8)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(BM_QueueLife)
    ->ArgsProduct({{4, 32, 128}, {2, 16, 64, 120}})
    ->ArgNames({"limit_kib", "body_kib"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);
BENCHMARK(BM_Recover)->Arg(100000)->ArgName("queued")->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
