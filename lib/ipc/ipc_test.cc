// ipc/ipc_test.cc — frames survive any split of the byte stream; status
// messages round-trip and malformed ones are refused.
#include <gtest/gtest.h>

#include "ipc/frame.h"
#include "ipc/status.h"

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

}  // namespace
}  // namespace postern::ipc
