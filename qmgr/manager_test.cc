// qmgr/manager_test.cc — the manager with a fake queue and fake transports: a message
// through scan → dispatch → result → removal, a deferral's backoff in the queue, and
// a bounce notice before the bounced envelope is removed.
#include "qmgr/manager.h"

#include <gtest/gtest.h>

#include <ctime>

namespace postern::qmgr {
namespace {

class FakeStore : public Store {
 public:
  std::map<queue::MsgId, queue::MessageRecord> messages;
  std::map<queue::EnvId, queue::Envelope> envelopes;
  std::vector<queue::MsgId> removed_messages;
  int list_calls = 0;

  queue::Outcome<std::vector<queue::Envelope>> ListScheduled(queue::ScheduleCursor* cursor, int64_t until,
                                                              size_t limit) override {
    ++list_calls;
    std::vector<queue::Envelope> due;
    for (const auto& [id, e] : envelopes) {
      bool scheduled = e.state == queue::State::kIncoming || e.state == queue::State::kDeferred;
      if (scheduled && e.next_attempt <= until && id > cursor->after) due.push_back(e);
      if (due.size() == limit) break;
    }
    if (!due.empty()) cursor->after = due.back().id;
    return due;
  }
  queue::Outcome<queue::MessageRecord> GetMessage(queue::MsgId id) override {
    auto it = messages.find(id);
    if (it == messages.end()) return queue::Status{queue::Code::kNotFound, "no such message"};
    return it->second;
  }
  std::vector<queue::Status> UpdateMany(std::span<const Change> changes) override {
    std::vector<queue::Status> out;
    for (const auto& [id, u] : changes) {
      auto it = envelopes.find(id);
      if (it == envelopes.end()) {
        out.push_back({queue::Code::kNotFound, "no such envelope"});
        continue;
      }
      queue::Envelope& e = it->second;
      if (u.state) e.state = *u.state;
      if (u.next_attempt) e.next_attempt = *u.next_attempt;
      if (u.attempts) e.attempts = *u.attempts;
      if (u.last_error) e.last_error = *u.last_error;
      if (u.transport) e.transport = *u.transport;
      if (u.nexthop) e.nexthop = *u.nexthop;
      out.push_back(queue::Status::Ok());
    }
    return out;
  }
  std::vector<queue::Status> RemoveMany(std::span<const queue::EnvId> ids, std::vector<queue::MsgId>* gone) override {
    std::vector<queue::Status> out;
    for (queue::EnvId id : ids) {
      if (!envelopes.erase(id)) {
        out.push_back({queue::Code::kNotFound, "no such envelope"});
        continue;
      }
      out.push_back(queue::Status::Ok());
      queue::MsgId msg = queue::MsgOf(id);
      bool last = true;
      for (const auto& [eid, e] : envelopes) last &= queue::MsgOf(eid) != msg;
      if (last && messages.erase(msg)) {
        gone->push_back(msg);
        removed_messages.push_back(msg);
      }
    }
    return out;
  }
  queue::Status SetMessageFlags(queue::MsgId id, uint32_t add) override {
    messages[id].flags |= add;
    return queue::Status::Ok();
  }
  queue::Status MarkCorrupt(queue::MsgId, std::string_view) override { return queue::Status::Ok(); }
  void KeepReserve() override {}
  void Housekeep(size_t) override {}
};

class FakeCalls : public Calls {
 public:
  struct Delivery {
    ipc::DeliveryRequest req;
    OnResult on_result;
    OnConnection on_connection;
    OnEnd on_end;
  };
  struct Notice {
    ipc::BounceRequest req;
    OnAnswer on_answer;
  };
  std::vector<Delivery> deliveries;
  std::vector<Notice> notices;

  std::unique_ptr<Pending> Deliver(const ipc::DeliveryRequest& req, OnResult on_result, OnConnection on_connection,
                                   OnEnd on_end, ipc::Call::Failure*, std::string*) override {
    deliveries.push_back({req, std::move(on_result), std::move(on_connection), std::move(on_end)});
    return std::make_unique<Pending>();
  }
  std::unique_ptr<Pending> Notify(const ipc::BounceRequest& req, OnAnswer on_answer) override {
    notices.push_back({req, std::move(on_answer)});
    return std::make_unique<Pending>();
  }
};

class ManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uv_loop_init(&loop_);
    auto cfg = config::Config::Parse("queue_directory = /nonexistent\nmydestination = localhost\n");
    ASSERT_TRUE(cfg.ok()) << cfg.error();
    auto s = Settings::FromConfig(*cfg);
    ASSERT_TRUE(s.ok()) << s.error();
    auto router = route::Router::FromConfig(*cfg);
    ASSERT_TRUE(router.ok()) << router.error();
    mgr_ = std::make_unique<Manager>(&loop_, *cfg, *s, std::move(*router), store_, calls_);
  }
  void TearDown() override {
    mgr_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);  // the closed handles' callbacks
    uv_loop_close(&loop_);
  }
  // A message from s@example.org to one remote recipient, due now.
  queue::EnvId Enqueue(queue::MsgId msg, const std::string& rcpt) {
    queue::MessageRecord& m = store_.messages[msg];
    m.id = msg;
    m.sender = "s@example.org";
    m.arrival = std::time(nullptr);
    m.nrcpt = 1;
    queue::Envelope e;
    e.id = queue::MakeEnvId(msg, 1);
    e.recipient = rcpt;
    e.next_attempt = std::time(nullptr);
    store_.envelopes[e.id] = e;
    return e.id;
  }
  void Turns(int n = 5) {
    for (int i = 0; i < n; ++i) uv_run(&loop_, UV_RUN_NOWAIT);
  }
  void Answer(size_t delivery, queue::EnvId id, ipc::DeliveryStatus st, const std::string& dsn) {
    ipc::DeliveryResult r;
    r.envelope_id = id;
    r.status = st;
    r.dsn = dsn;
    r.reason = "250 ok / 550 no / 451 later";
    r.relay = "mx.remote.example[192.0.2.7]:25";
    calls_.deliveries[delivery].on_result(r);
    calls_.deliveries[delivery].on_end(ipc::Call::End::kDone, "");
    Turns();
  }

  uv_loop_t loop_;
  FakeStore store_;
  FakeCalls calls_;
  std::unique_ptr<Manager> mgr_;
};

TEST_F(ManagerTest, AMessageGoesThroughDispatchResultAndRemoval) {
  queue::EnvId id = Enqueue(0x11, "user@remote.example");
  mgr_->Start();
  Turns();
  ASSERT_EQ(calls_.deliveries.size(), 1u);
  const ipc::DeliveryRequest& req = calls_.deliveries[0].req;
  EXPECT_EQ(req.transport, "smtp");
  EXPECT_EQ(req.nexthop, "remote.example");
  EXPECT_EQ(req.sender, "s@example.org");
  ASSERT_EQ(req.recipients.size(), 1u);
  EXPECT_EQ(store_.envelopes[id].state, queue::State::kActive);  // claimed
  EXPECT_EQ(store_.envelopes[id].transport, "smtp");
  Answer(0, id, ipc::DeliveryStatus::kSent, "2.0.0");
  EXPECT_TRUE(store_.envelopes.empty());
  EXPECT_EQ(store_.removed_messages, std::vector<queue::MsgId>{0x11});
  EXPECT_EQ(mgr_->stats().sent, 1u);
  EXPECT_EQ(mgr_->active().messages(), 0u);  // out of core
}

TEST_F(ManagerTest, ADeepScanLeavesTheLoopBetweenPages) {
  // 2,000 due envelopes: ten scan pages. Control requests and results are
  // served between them, so one loop turn must not run them all (libuv 1.44
  // re-runs a 0 ms timer re-armed in its callback within the same turn).
  for (queue::MsgId m = 1; m <= 2000; ++m) Enqueue(0x1000 + m, "user" + std::to_string(m) + "@remote.example");
  mgr_->Start();  // the first page
  EXPECT_EQ(store_.list_calls, 1);
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_LE(store_.list_calls, 3);
  for (int turns = 0; turns < 1000 && mgr_->active().messages() < 2000; ++turns) uv_run(&loop_, UV_RUN_ONCE);
  EXPECT_EQ(mgr_->active().messages(), 2000u);  // the scan went on to the end
}

TEST_F(ManagerTest, ADeferredRecipientWaitsInTheQueueForItsBackoff) {
  queue::EnvId id = Enqueue(0x12, "user@remote.example");
  mgr_->Start();
  Turns();
  ASSERT_EQ(calls_.deliveries.size(), 1u);
  int64_t before = std::time(nullptr);
  Answer(0, id, ipc::DeliveryStatus::kDeferred, "4.4.1");
  const queue::Envelope& e = store_.envelopes.at(id);
  EXPECT_EQ(e.state, queue::State::kDeferred);
  EXPECT_EQ(e.attempts, 1u);
  EXPECT_GE(e.next_attempt, before + 300);  // minimal_backoff_time
  EXPECT_EQ(calls_.deliveries.size(), 1u);  // not again before then
  EXPECT_EQ(mgr_->active().messages(), 0u);
}

TEST_F(ManagerTest, ABouncedRecipientIsRemovedOnlyOnceBounceQueuedTheNotice) {
  queue::EnvId id = Enqueue(0x13, "user@remote.example");
  mgr_->Start();
  Turns();
  ASSERT_EQ(calls_.deliveries.size(), 1u);
  Answer(0, id, ipc::DeliveryStatus::kBounced, "5.1.1");
  ASSERT_EQ(calls_.notices.size(), 1u);
  EXPECT_EQ(calls_.notices[0].req.kind, ipc::NoticeKind::kFailed);
  EXPECT_EQ(calls_.notices[0].req.recipients[0].status, "5.1.1");
  EXPECT_TRUE(store_.envelopes.count(id));  // kept until the notice is queued
  calls_.notices[0].on_answer({true, 0x99, ""});
  Turns();
  EXPECT_TRUE(store_.envelopes.empty());
  EXPECT_EQ(store_.removed_messages, std::vector<queue::MsgId>{0x13});
  EXPECT_EQ(mgr_->active().messages(), 0u);
}

TEST_F(ManagerTest, AFailedNoticeLeavesTheRecipientDeferredForALaterReport) {
  queue::EnvId id = Enqueue(0x14, "user@remote.example");
  mgr_->Start();
  Turns();
  Answer(0, id, ipc::DeliveryStatus::kBounced, "5.1.1");
  ASSERT_EQ(calls_.notices.size(), 1u);
  calls_.notices[0].on_answer({false, 0, "bounce service timed out"});
  Turns();
  ASSERT_TRUE(store_.envelopes.count(id));
  EXPECT_EQ(store_.envelopes[id].state, queue::State::kDeferred);
  EXPECT_TRUE(store_.removed_messages.empty());
}

TEST_F(ManagerTest, ConnectionFactsReachTheWatcherWithTheirDeliveryAndItsEnd) {
  std::vector<std::string> seen;
  mgr_->SetConnectionWatcher({[&](const Job& j, const ipc::ConnectionFact& c) {
                                seen.push_back(j.dest->nexthop + " " + c.address);
                              },
                              [&](const Job& j) { seen.push_back("end " + j.dest->nexthop); }});
  queue::EnvId id = Enqueue(0x15, "user@remote.example");
  mgr_->Start();
  Turns();
  ASSERT_EQ(calls_.deliveries.size(), 1u);
  ipc::ConnectionFact c;
  c.address = "192.0.2.7";
  calls_.deliveries[0].on_connection(c);
  Answer(0, id, ipc::DeliveryStatus::kSent, "2.0.0");
  EXPECT_EQ(seen, (std::vector<std::string>{"remote.example 192.0.2.7", "end remote.example"}));
}

}  // namespace
}  // namespace postern::qmgr
