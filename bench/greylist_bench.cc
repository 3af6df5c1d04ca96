// bench/greylist_bench.cc — the greylist scenario: policy cache lookups per
// second as check_greylist makes them (the client's grey:white: record, then
// a Hit on its triplet), on LMDB and on a private redis-server with 1 and 64
// lookups in flight on one libuv loop. Redis is skipped when not installed.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>
#include <uv.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "postern/stats/policy_cache.h"

namespace c = postern::cache;

namespace {

std::string Triplet(int64_t i) { return "grey:192.0.2.0/24,sender" + std::to_string(i % 1000) + "@example.org,rcpt@example.net"; }

// One greylist check: the white record, then the triplet's hit.
void Check(c::Cache& cache, int64_t i, int* done) {
  cache.Get("grey:white:192.0.2.0/24", [&cache, i, done](auto) {
    cache.Hit(Triplet(i), "grey", 600, [done](auto) { ++*done; });
  });
}

void Run(benchmark::State& state, const std::string& database) {
  const int in_flight = int(state.range(0));
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    auto opened = c::Open(&loop, c::Options{database, "", std::chrono::milliseconds(5000)});
    if (!opened) return state.SkipWithError(opened.error().c_str());
    c::Cache& cache = **opened;
    int64_t n = 0;
    for (auto _ : state) {
      int done = 0;
      for (int k = 0; k < in_flight; ++k) Check(cache, n++, &done);
      while (done < in_flight) uv_run(&loop, UV_RUN_ONCE);
    }
    state.SetItemsProcessed(state.iterations() * in_flight * 2);  // two lookups per check
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
}

void BM_GreylistLmdb(benchmark::State& state) {
  std::string dir = std::filesystem::temp_directory_path() / ("greylist_bench." + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  Run(state, dir + "/cache.lmdb");
  std::filesystem::remove_all(dir);
}

int FreePort() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  return ntohs(a.sin_port);
}

// Polls the port until something accepts (up to 10 s).
bool Listening(int port) {
  for (int i = 0; i < 200; ++i) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(uint16_t(port));
    bool ok = connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(s);
    if (ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

void BM_GreylistRedis(benchmark::State& state) {
  if (access("/usr/bin/redis-server", X_OK) != 0) return state.SkipWithError("no /usr/bin/redis-server");
  int port = FreePort();
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    std::string p = std::to_string(port);
    execl("/usr/bin/redis-server", "redis-server", "--port", p.c_str(), "--bind", "127.0.0.1", "--save", "",
          "--appendonly", "no", "--dir", "/tmp", static_cast<char*>(nullptr));
    _exit(127);
  }
  if (!Listening(port)) {
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
    return state.SkipWithError("redis-server did not start");
  }
  Run(state, "redis:127.0.0.1:" + std::to_string(port));
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
}

}  // namespace

BENCHMARK(BM_GreylistLmdb)->Arg(1)->Arg(64)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_GreylistRedis)->Arg(1)->Arg(64)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
