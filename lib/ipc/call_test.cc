// ipc/call_test.cc — a connection the agent keeps carries the next request, and a
// kept connection the agent closed is told apart by whether the agent read the
// request: unread (EPIPE on our write, ECONNRESET on our read) is kNotTaken,
// read and then closed is kCrashed.
#include "postern/ipc/call.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>

#include "postern/event/event.h"

namespace postern::ipc {
namespace {

class CallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);  // as every postern process: EPIPE, not death
    char tmpl[] = "/tmp/call_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/agent";
    listen_ = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path_.c_str());
    ASSERT_EQ(bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(listen(listen_, 8), 0);
  }
  void TearDown() override {
    if (agent_ >= 0) close(agent_);
    close(listen_);
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }

  std::unique_ptr<Call> Connect() {
    Call::Failure f;
    std::string why;
    auto c = Call::Connect(loop_.get(), path_, kDeliveryFrameMax, &f, &why);
    EXPECT_TRUE(c) << why;
    agent_ = accept(listen_, nullptr, nullptr);
    EXPECT_GE(agent_, 0);
    return c;
  }

  // The agent's side, blocking: one whole request frame.
  std::string ReadRequest() {
    FrameReader r(kDeliveryFrameMax);
    std::string p;
    char buf[4096];
    while (r.Next(&p) != FrameReader::Status::kFrame) {
      ssize_t n = read(agent_, buf, sizeof buf);
      if (n <= 0) return "";
      r.Feed(std::string_view(buf, size_t(n)));
    }
    return p;
  }
  void Answer(bool keep) {
    DeliveryResult r{7, DeliveryStatus::kSent, "2.0.0", "250 ok", "sink", false};
    std::string out;
    AppendFrame(EncodeResult(r), &out);
    AppendFrame(EncodeEnd(keep), &out);
    ASSERT_EQ(write(agent_, out.data(), out.size()), ssize_t(out.size()));
  }

  struct Outcome {
    std::optional<Call::End> end;
    std::string why;
    int results = 0;
  };
  void Send(Call& c, Outcome* o) {
    DeliveryRequest req;
    req.message_id = 1;
    req.transport = "test";
    req.recipients = {{7, "a@example.net", "", 0}};
    SendDelivery(c, req, [o](const DeliveryResult&) { ++o->results; },
                 [o](Call::End how, const std::string& why) {
                   o->end = how;
                   o->why = why;
                 });
  }
  // Runs the loop until `done` or 5 s.
  template <class F>
  void RunUntil(F done) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done() && std::chrono::steady_clock::now() < until) uv_run(loop_.get(), UV_RUN_NOWAIT);
  }
  // One request answered with a keeping end frame: the call is reusable.
  void FirstRequestKept(Call& c) {
    Outcome o;
    Send(c, &o);
    ASSERT_FALSE(ReadRequest().empty());
    Answer(true);
    RunUntil([&] { return o.end.has_value(); });
    ASSERT_EQ(o.end, Call::End::kDone);
    EXPECT_EQ(o.results, 1);
    ASSERT_TRUE(c.reusable());
  }

  event::Loop loop_;
  std::string dir_, path_;
  int listen_ = -1, agent_ = -1;
};

TEST_F(CallTest, AKeptConnectionCarriesTheNextRequestAndAPlainEndClosesIt) {
  auto c = Connect();
  FirstRequestKept(*c);
  Outcome o;
  Send(*c, &o);
  ASSERT_FALSE(ReadRequest().empty());  // on the same connection: no second accept
  Answer(false);
  RunUntil([&] { return o.end.has_value(); });
  EXPECT_EQ(o.end, Call::End::kDone);
  EXPECT_EQ(o.results, 1);
  EXPECT_FALSE(c->reusable());
}

TEST_F(CallTest, AParkedConnectionTellsWhenTheAgentClosesIt) {
  auto c = Connect();
  FirstRequestKept(*c);
  bool gone = false;
  c->Park([&] { gone = true; });
  close(agent_);
  agent_ = -1;
  RunUntil([&] { return gone; });
  EXPECT_TRUE(gone);
  EXPECT_FALSE(c->reusable());
}

TEST_F(CallTest, ARequestWrittenAfterTheAgentClosedIsNotTaken) {
  auto c = Connect();
  FirstRequestKept(*c);
  close(agent_);  // before the loop has seen the end of file
  agent_ = -1;
  Outcome o;
  Send(*c, &o);
  RunUntil([&] { return o.end.has_value(); });
  EXPECT_EQ(o.end, Call::End::kNotTaken) << o.why;
}

TEST_F(CallTest, ARequestLeftUnreadAtTheAgentsCloseIsNotTaken) {
  auto c = Connect();
  FirstRequestKept(*c);
  Outcome o;
  Send(*c, &o);  // in the agent's socket now
  close(agent_);
  agent_ = -1;
  RunUntil([&] { return o.end.has_value(); });
  EXPECT_EQ(o.end, Call::End::kNotTaken) << o.why;
}

TEST_F(CallTest, AnAgentThatReadTheRequestAndDiedCrashed) {
  auto c = Connect();
  FirstRequestKept(*c);
  Outcome o;
  Send(*c, &o);
  ASSERT_FALSE(ReadRequest().empty());
  close(agent_);
  agent_ = -1;
  RunUntil([&] { return o.end.has_value(); });
  EXPECT_EQ(o.end, Call::End::kCrashed) << o.why;
}

TEST_F(CallTest, AFreshConnectionClosedUnreadIsACrashNotARetry) {
  // Only a reused connection may be taken as "not taken": a worker that dies
  // at once on every fresh connection must not make qmgr retry forever.
  auto c = Connect();
  Outcome o;
  Send(*c, &o);
  close(agent_);
  agent_ = -1;
  RunUntil([&] { return o.end.has_value(); });
  EXPECT_EQ(o.end, Call::End::kCrashed) << o.why;
}

}  // namespace
}  // namespace postern::ipc
