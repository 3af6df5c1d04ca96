// util/unix_socket_test.cc — the fd owner and unix-socket connects against a
// real listener in a temporary directory.
#include "postern/util/unix_socket.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

namespace postern {
namespace {

std::string TempDir() {
  std::string t = ::testing::TempDir() + "usockXXXXXX";
  return mkdtemp(t.data()) ? t : "";
}

bool IsOpen(int fd) { return fcntl(fd, F_GETFD) != -1; }

TEST(Fd, ClosesOnDestructionUnlessReleased) {
  int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  { Fd fd(raw); EXPECT_TRUE(fd.valid()); }
  EXPECT_FALSE(IsOpen(raw));
  raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  Fd fd(raw);
  Fd moved = std::move(fd);
  EXPECT_FALSE(fd.valid());
  EXPECT_EQ(moved.Release(), raw);
  EXPECT_TRUE(IsOpen(raw));
  moved.Reset(raw);
  EXPECT_EQ(moved.Close(), 0);
  EXPECT_FALSE(IsOpen(raw));
  EXPECT_EQ(moved.Close(), 0);  // nothing held
}

TEST(UnixSocket, TooLongPathIsNamed) {
  std::string path = "/tmp/" + std::string(200, 'x');
  auto a = MakeUnixAddress(path);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error(), "socket path too long: " + path);
  int err = -1;
  auto fd = ConnectUnix(path, false, &err);
  ASSERT_FALSE(fd);
  EXPECT_EQ(err, 0);
  EXPECT_FALSE(MakeUnixAddress(""));
}

TEST(UnixSocket, ConnectsToAListenerAndNamesAMissingOne) {
  std::string dir = TempDir();
  ASSERT_FALSE(dir.empty());
  std::string path = dir + "/sock";
  auto addr = MakeUnixAddress(path);
  ASSERT_TRUE(addr);
  Fd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(::bind(listener.get(), addr->get(), addr->size()), 0);
  ASSERT_EQ(::listen(listener.get(), 4), 0);
  for (bool nonblocking : {false, true}) {
    auto fd = ConnectUnix(path, nonblocking);
    ASSERT_TRUE(fd) << fd.error();
    EXPECT_EQ((fcntl(fd->get(), F_GETFL) & O_NONBLOCK) != 0, nonblocking);
    EXPECT_TRUE(fcntl(fd->get(), F_GETFD) & FD_CLOEXEC);
  }
  int err = 0;
  auto gone = ConnectUnix(dir + "/none", true, &err);
  ASSERT_FALSE(gone);
  EXPECT_EQ(err, ENOENT);
  EXPECT_EQ(gone.error().rfind("connect to " + dir + "/none: ", 0), 0u) << gone.error();
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
}

}  // namespace
}  // namespace postern
