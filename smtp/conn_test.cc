// smtp/conn_test.cc — a client connection against a socketpair peer: replies
// matched to waiters in order, Postfix's wording for timeouts and lost
// connections, 421 and unsolicited data retiring the connection.
#include "smtp/conn.h"

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <vector>

#include <gtest/gtest.h>

namespace postern::smtp_client {
namespace {

struct Pair {
  event::Loop loop;
  int peer = -1;
  std::unique_ptr<Conn> conn;
  Pair() {
    int sv[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    peer = sv[1];
    auto s = event::Stream::Adopt(loop.get(), sv[0]);
    EXPECT_TRUE(s);
    conn = std::make_unique<Conn>(loop.get(), std::move(*s), "mx.test", "192.0.2.1", 25, 2048);
  }
  ~Pair() {
    conn.reset();
    if (peer >= 0) close(peer);
  }
  void Say(std::string_view bytes) { ASSERT_EQ(write(peer, bytes.data(), bytes.size()), ssize_t(bytes.size())); }
  // Runs the loop until pred() holds or a second has passed.
  bool RunUntil(const std::function<bool()>& pred) {
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (!pred() && std::chrono::steady_clock::now() < end) uv_run(loop.get(), UV_RUN_NOWAIT);
    return pred();
  }
};

TEST(Conn, RepliesGoToWaitersInOrder) {
  Pair p;
  std::vector<Result<smtp::Reply>> got;
  for (int i = 0; i < 3; ++i) p.conn->Expect("sending RCPT TO", 1000, [&](Result<smtp::Reply> r) { got.push_back(r); });
  p.Say("250 2.1.0 Ok\r\n550-5.1.1 no such\r\n550 5.1.1 user\r\n451 4.3.0 later\r\n");
  ASSERT_TRUE(p.RunUntil([&] { return got.size() == 3; }));
  EXPECT_EQ(ReplyText(*got[0]), "250 2.1.0 Ok");
  EXPECT_EQ(ReplyText(*got[1]), "550 5.1.1 no such user");
  EXPECT_EQ(ReplyDsn(*got[2]), "4.3.0");
  EXPECT_FALSE(p.conn->broken());
  EXPECT_EQ(p.conn->relay(), "mx.test[192.0.2.1]:25");
}

TEST(Conn, TimeoutAndLostConnectionAreWordedAsPostfix) {
  {
    Pair p;
    std::string why;
    p.conn->Expect("sending MAIL FROM", 30, [&](Result<smtp::Reply> r) { why = r ? "reply" : r.error(); });
    ASSERT_TRUE(p.RunUntil([&] { return !why.empty(); }));
    EXPECT_EQ(why, "conversation with mx.test[192.0.2.1] timed out while sending MAIL FROM");
    EXPECT_TRUE(p.conn->broken());
  }
  {
    Pair p;
    std::vector<std::string> why;
    for (int i = 0; i < 2; ++i)
      p.conn->Expect("sending RCPT TO", 1000, [&](Result<smtp::Reply> r) { why.push_back(r ? "reply" : r.error()); });
    p.Say("250 ok\r\n");
    close(p.peer);
    p.peer = -1;
    ASSERT_TRUE(p.RunUntil([&] { return why.size() == 2; }));
    EXPECT_EQ(why[0], "reply");
    EXPECT_EQ(why[1], "lost connection with mx.test[192.0.2.1] while sending RCPT TO");
  }
}

TEST(Conn, A421RetiresTheConnection) {
  Pair p;
  int n = 0;
  p.conn->Expect("sending MAIL FROM", 1000, [&](Result<smtp::Reply> r) { n += r && r->code == 421; });
  p.Say("421 4.7.0 closing\r\n");
  ASSERT_TRUE(p.RunUntil([&] { return n == 1; }));
  EXPECT_TRUE(p.conn->broken());
}

TEST(Conn, UnsolicitedDataBreaksAnIdleConnection) {
  Pair p;
  bool broke = false;
  p.conn->OnIdleBreak([&] { broke = true; });
  p.Say("421 4.4.2 idle timeout\r\n");
  ASSERT_TRUE(p.RunUntil([&] { return broke; }));
  EXPECT_TRUE(p.conn->broken());
}

TEST(Conn, AWaiterMayDestroyTheConnection) {
  Pair p;
  int calls = 0;
  for (int i = 0; i < 2; ++i)
    p.conn->Expect("sending RCPT TO", 1000, [&](Result<smtp::Reply>) {
      ++calls;
      p.conn.reset();  // what a delivery does when the first reply ends it
    });
  p.Say("250 a\r\n250 b\r\n");
  p.RunUntil([&] { return calls > 0; });
  for (int i = 0; i < 10; ++i) uv_run(p.loop.get(), UV_RUN_NOWAIT);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace postern::smtp_client
