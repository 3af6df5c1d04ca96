// stats/anvil_test.cc — the shared anvil counters: connection counts per
// address across processes (a dead holder's count is dropped) and rate windows.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "postern/stats/anvil.h"

namespace postern::stats {
namespace {

struct Dir {
  Dir() {
    char tmpl[] = "/tmp/anvil_test.XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~Dir() { std::filesystem::remove_all(path); }
  std::string path;
};

TEST(Anvil, ConnectionsCountPerAddressAcrossHolders) {
  Dir d;
  auto a = Anvil::Open(d.path + "/anvil.lmdb");
  ASSERT_TRUE(a) << a.error();
  pid_t me = getpid(), parent = getppid();  // both alive
  EXPECT_EQ(*(*a)->Connect("192.0.2.1", me), 1u);
  EXPECT_EQ(*(*a)->Connect("192.0.2.1", me), 2u);
  EXPECT_EQ(*(*a)->Connect("192.0.2.1", parent), 3u);
  EXPECT_EQ(*(*a)->Connect("192.0.2.2", me), 1u);
  ASSERT_TRUE((*a)->Disconnect("192.0.2.1", me));
  EXPECT_EQ(*(*a)->Connect("192.0.2.1", me), 3u);
  EXPECT_EQ(*(*a)->ForgetProcess(me), 2u);  // 192.0.2.1 and 192.0.2.2
  EXPECT_EQ(*(*a)->Connect("192.0.2.1", me), 2u);  // parent's one is still there
}

TEST(Anvil, ConnectionsOfADeadProcessDoNotCount) {
  Dir d;
  auto a = Anvil::Open(d.path + "/anvil.lmdb");
  ASSERT_TRUE(a) << a.error();
  pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);  // gone: its pid is no live process now
  EXPECT_EQ(*(*a)->Connect("192.0.2.1", child), 1u);
  EXPECT_EQ(*(*a)->Connect("192.0.2.1", child), 2u);
  EXPECT_EQ(*(*a)->Connect("192.0.2.1", getpid()), 1u);
}

TEST(Anvil, RateWindowsRestartAfterTheUnit) {
  Dir d;
  auto a = Anvil::Open(d.path + "/anvil.lmdb");
  ASSERT_TRUE(a) << a.error();
  constexpr std::time_t t = 1'700'000'000;
  EXPECT_EQ(*(*a)->Rate("mail", "192.0.2.1", 60, t), 1u);
  EXPECT_EQ(*(*a)->Rate("mail", "192.0.2.1", 60, t + 30), 2u);
  EXPECT_EQ(*(*a)->Rate("rcpt", "192.0.2.1", 60, t + 30), 1u);
  EXPECT_EQ(*(*a)->Rate("mail", "192.0.2.1", 60, t + 59), 3u);
  EXPECT_EQ(*(*a)->Rate("mail", "192.0.2.1", 60, t + 60), 1u);  // a new window
  EXPECT_EQ(*(*a)->Sweep(60, t + 95), 1u);                      // rcpt's window ended at t+90
  EXPECT_EQ(*(*a)->Rate("rcpt", "192.0.2.1", 60, t + 96), 1u);
  EXPECT_FALSE((*a)->Rate("mail", std::string(200, '1'), 60, t));
}

}  // namespace
}  // namespace postern::stats
