// ipc/ipc_test.cc — frames survive any split of the byte stream; status
// messages round-trip and malformed ones are refused; a status frame the
// socket cannot take now is written later, never lost.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "postern/ipc/frame.h"
#include "postern/ipc/status.h"

namespace postern::ipc {
namespace {

TEST(Frame, ReassemblesAtEverySplitPoint) {
  std::string wire = Frame("hello") + Frame("") + Frame(std::string(300, 'x'));
  for (size_t cut = 0; cut <= wire.size(); ++cut) {
    FrameReader r(1000);
    std::vector<std::string> got;
    std::string p;
    r.Feed(std::string_view(wire).substr(0, cut));
    while (r.Next(&p) == FrameReader::Status::kFrame) got.push_back(p);
    r.Feed(std::string_view(wire).substr(cut));
    while (r.Next(&p) == FrameReader::Status::kFrame) got.push_back(p);
    ASSERT_EQ(got.size(), 3u) << "cut at " << cut;
    EXPECT_EQ(got[0], "hello");
    EXPECT_EQ(got[1], "");
    EXPECT_EQ(got[2], std::string(300, 'x'));
  }
}

TEST(Frame, RefusesOversizedLength) {
  FrameReader r(10);
  r.Feed(Frame(std::string(11, 'a')));
  std::string p;
  EXPECT_EQ(r.Next(&p), FrameReader::Status::kTooLong);
}

TEST(Status, RoundTrips) {
  const StatusMessage cases[] = {
      {WorkerState::kBusy, 1, 0},
      {WorkerState::kIdle, 4194304, 7},
      {WorkerState::kIdle, 0xffffffffu, 0xffffffffu},
  };
  for (const auto& m : cases) {
    FrameReader r(kStatusPayloadMax);
    r.Feed(EncodeStatus(m));
    std::string p;
    ASSERT_EQ(r.Next(&p), FrameReader::Status::kFrame);
    auto back = DecodeStatus(p);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, m);
  }
}

TEST(Status, RefusesMalformed) {
  const std::string cases[] = {"", "I", std::string("X\0\0\0\1\0\0\0\1", 9), std::string("B\0\0\0\1\0\0\0", 8),
                               std::string("I\0\0\0\1\0\0\0\1\0", 10)};
  for (const auto& c : cases) EXPECT_FALSE(DecodeStatus(c).has_value()) << c.size();
}

// All frames on the master's end of the socket.
std::vector<StatusMessage> ReadAll(int fd) {
  FrameReader r(kStatusPayloadMax);
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) r.Feed(std::string_view(buf, size_t(n)));
  std::vector<StatusMessage> out;
  std::string p;
  while (r.Next(&p) == FrameReader::Status::kFrame) out.push_back(*DecodeStatus(p));
  return out;
}

TEST(StatusSender, KeepsWhatAFullSocketRefusesAndSendsTheNewestStateWhenWritable) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  StatusSender sender(sv[1]);
  // Fill the socket as a storm of frames from many workers would (master behind).
  const StatusMessage idle{WorkerState::kIdle, 42, 1}, busy{WorkerState::kBusy, 42, 1};
  size_t accepted = 0;
  while (sender.Send(idle)) ++accepted;
  ASSERT_TRUE(sender.pending());
  EXPECT_FALSE(sender.Send(busy));  // replaces the kept idle: only the newest state matters
  EXPECT_FALSE(sender.Flush());     // still full
  auto got = ReadAll(sv[0]);        // master catches up
  EXPECT_EQ(got.size(), accepted);
  EXPECT_TRUE(sender.Flush());
  EXPECT_FALSE(sender.pending());
  got = ReadAll(sv[0]);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], busy);  // master's last word on this worker is the true state
  EXPECT_EQ(sender.TakeError(), 0);
  close(sv[0]);
  EXPECT_TRUE(sender.Send(idle));  // master gone: nothing to keep
  EXPECT_EQ(sender.TakeError(), EPIPE);
  close(sv[1]);
}

}  // namespace
}  // namespace postern::ipc
