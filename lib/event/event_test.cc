// event/event_test.cc — line splitting limits, timers and streams on a real loop.
#include "postern/event/event.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

namespace postern::event {
namespace {

struct LineCase {
  std::string input;
  size_t limit;
  std::vector<std::string> lines;
  std::vector<bool> truncated;
  size_t pending;
};

TEST(LineBuffer, Splits) {
  const LineCase cases[] = {
      {"a\r\nb\n", 100, {"a", "b"}, {false, false}, 0},
      {"partial", 100, {}, {}, 7},
      {"one\ntwo", 100, {"one"}, {false}, 3},
      {"abcdefgh\n", 4, {"abcd", "efgh"}, {true, false}, 0},
      {"abcdefghij", 4, {"abcd", "efgh"}, {true, true}, 2},
      {"\n\n", 4, {"", ""}, {false, false}, 0},
  };
  for (const auto& c : cases) {
    LineBuffer b(c.limit);
    b.Feed(c.input);
    std::vector<std::string> got;
    std::vector<bool> cut;
    std::string line;
    bool t = false;
    while (b.Next(&line, &t)) {
      got.push_back(line);
      cut.push_back(t);
    }
    EXPECT_EQ(got, c.lines) << c.input;
    EXPECT_EQ(cut, c.truncated) << c.input;
    EXPECT_EQ(b.pending(), c.pending) << c.input;
  }
}

TEST(LineBuffer, JoinsPiecesAcrossFeeds) {
  LineBuffer b(100);
  std::string line;
  b.Feed("HE");
  EXPECT_FALSE(b.Next(&line));
  b.Feed("LO\r");
  EXPECT_FALSE(b.Next(&line));
  b.Feed("\n");
  ASSERT_TRUE(b.Next(&line));
  EXPECT_EQ(line, "HELO");
}

TEST(Timer, FiresAndCanBeDroppedInsideItsCallback) {
  Loop loop;
  int fired = 0;
  auto t = std::make_unique<Timer>(loop.get());
  t->Start(1, 0, [&] {
    ++fired;
    t.reset();
  });
  loop.Run();
  EXPECT_EQ(fired, 1);
}

TEST(Stream, EchoesOverASocketPair) {
  Loop loop;
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  auto s = Stream::Adopt(loop.get(), sv[0]);
  ASSERT_TRUE(s.ok()) << s.error();
  std::unique_ptr<Stream> stream = std::move(*s);
  std::string got;
  int end = 0;
  stream->ReadStart([&](std::string_view d) { got.append(d); }, [&](int status) {
    end = status;
    stream.reset();
  });
  ASSERT_EQ(write(sv[1], "hello", 5), 5);
  close(sv[1]);
  loop.Run();
  EXPECT_EQ(got, "hello");
  EXPECT_EQ(end, UV_EOF);
}

}  // namespace
}  // namespace postern::event
