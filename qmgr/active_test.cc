// qmgr/active_test.cc — the active set without I/O: recipients placed at
// destinations, then "these results → these next dispatches" (windows, recipient
// limits, feedback, dead destinations, throttling, pause, bounds).
#include "qmgr/active.h"

#include <gtest/gtest.h>

namespace postern::qmgr {
namespace {

constexpr int64_t kNow = 1'700'000'000;

TransportLimits Limits(int initial, int limit, int rcpt_limit, int cohorts = 1) {
  TransportLimits l;
  l.window.initial = initial;
  l.window.limit = limit;
  l.window.cohort_limit = cohorts;
  l.recipient_limit = rcpt_limit;
  return l;
}

struct Fixture {
  explicit Fixture(TransportLimits l, size_t msgs = 100, size_t rcpts = 1000)
      : set(msgs, rcpts, [l](const std::string& t) -> Result<TransportLimits> {
          if (t == "broken") return Err("bad feedback \"x\"");
          return l;
        }) {}
  // Takes message `msg` in with `n` recipients, all to relay:[mx].
  void Add(queue::MsgId msg, int n, const std::string& nexthop = "mx") {
    Message& m = set.Find(msg) ? *set.Find(msg) : set.Insert(msg, {});
    for (int i = 0; i < n; ++i) {
      set.Count(m);
      Entry e{queue::MakeEnvId(msg, uint32_t(m.in_core)), "r" + std::to_string(i) + "@x", "", 0, 0};
      ASSERT_TRUE(set.Place(msg, e, "relay", nexthop, kNow).queued);
    }
  }
  // Dispatches; returns the jobs started, their recipient counts in order.
  std::vector<size_t> Dispatch(bool paused = false, int max_inflight = 1000) {
    std::vector<size_t> sizes;
    set.Dispatch(
        kNow, max_inflight, [paused](const Transport&) { return paused; },
        [&](Job& j) {
          started.push_back(&j);
          sizes.push_back(j.entries.size());
          return true;
        });
    return sizes;
  }
  ipc::DeliveryResult Res(const Job& j, size_t i, ipc::DeliveryStatus st, std::string relay = "mx[192.0.2.1]:25") {
    ipc::DeliveryResult r;
    r.envelope_id = j.entries[i].id;
    r.status = st;
    r.relay = std::move(relay);
    r.reason = "why";
    return r;
  }
  ActiveSet set;
  std::vector<Job*> started;
};

TEST(ActiveSet, RecipientLimitGroupsRecipientsOfOneMessagePerRequest) {
  const struct {
    int rcpts, limit;
    std::vector<size_t> want;
  } cases[] = {{5, 2, {2, 2, 1}}, {3, 0, {3}}, {4, 4, {4}}, {1, 50, {1}}};
  for (const auto& c : cases) {
    Fixture f(Limits(10, 20, c.limit));
    f.Add(1, c.rcpts);
    EXPECT_EQ(f.Dispatch(), c.want) << c.rcpts << " recipients, limit " << c.limit;
  }
}

TEST(ActiveSet, WindowBoundsRequestsPerDestinationAndOldestMessageGoesFirst) {
  Fixture f(Limits(2, 20, 1));
  for (queue::MsgId m = 1; m <= 5; ++m) f.Add(m, 1);
  EXPECT_EQ(f.Dispatch().size(), 2u);
  EXPECT_EQ(f.started[0]->msg, 1u);
  EXPECT_EQ(f.started[1]->msg, 2u);
  EXPECT_EQ(f.Dispatch().size(), 0u);  // the window is full
  // Another destination has its own window.
  f.Add(9, 1, "other");
  EXPECT_EQ(f.Dispatch().size(), 1u);
}

TEST(ActiveSet, ResultsFeedTheWindowThenTheNextDispatches) {
  // event per finished request → how many requests the next dispatch starts.
  const struct {
    const char* name;
    ipc::DeliveryStatus status;
    std::string relay;
    bool crashed;
    size_t next;
    int window;
  } cases[] = {
      {"sent: the window grows by one", ipc::DeliveryStatus::kSent, "mx", false, 2, 3},
      {"bounced: the server was reached", ipc::DeliveryStatus::kBounced, "mx", false, 2, 3},
      {"deferred after reaching the server", ipc::DeliveryStatus::kDeferred, "mx[192.0.2.1]:25", false, 2, 3},
      {"deferred, nothing reached: shrinks", ipc::DeliveryStatus::kDeferred, "none", false, 0, 1},
      {"crashed transport: no verdict", ipc::DeliveryStatus::kDeferred, "none", true, 1, 2},
  };
  for (const auto& c : cases) {
    Fixture f(Limits(2, 20, 1, 0));
    for (queue::MsgId m = 1; m <= 6; ++m) f.Add(m, 1);
    ASSERT_EQ(f.Dispatch().size(), 2u) << c.name;
    Job& j = *f.started[0];
    if (!c.crashed) ASSERT_NE(f.set.Answer(j, f.Res(j, 0, c.status, c.relay)), nullptr) << c.name;
    JobEnd end = f.set.Finish(j, c.crashed);
    EXPECT_FALSE(end.dest_died) << c.name;
    EXPECT_EQ(end.unanswered.size(), c.crashed ? 1u : 0u) << c.name;
    EXPECT_EQ(f.set.FindDest("relay", "mx")->window.concurrency(), c.window) << c.name;
    EXPECT_EQ(f.Dispatch().size(), c.next) << c.name;
  }
}

TEST(ActiveSet, AResultIsCountedOnceAndOnlyForItsJob) {
  Fixture f(Limits(5, 20, 10));
  f.Add(1, 2);
  f.Dispatch();
  Job& j = *f.started[0];
  auto r = f.Res(j, 0, ipc::DeliveryStatus::kSent);
  EXPECT_NE(f.set.Answer(j, r), nullptr);
  EXPECT_EQ(f.set.Answer(j, r), nullptr);  // twice
  r.envelope_id = queue::MakeEnvId(7, 7);
  EXPECT_EQ(f.set.Answer(j, r), nullptr);  // not given to it
  JobEnd end = f.set.Finish(j, false);
  ASSERT_EQ(end.unanswered.size(), 1u);     // the second recipient: no result
  EXPECT_EQ(end.unanswered[0].id, j.entries[1].id);
}

TEST(ActiveSet, AFailedCohortKillsTheDestinationUntilItsRevival) {
  Fixture f(Limits(1, 20, 1, 1));
  f.Add(1, 1);
  f.Add(2, 2);
  ASSERT_EQ(f.Dispatch().size(), 1u);
  Job& j = *f.started[0];
  f.set.Answer(j, f.Res(j, 0, ipc::DeliveryStatus::kDeferred, "none"));
  JobEnd end = f.set.Finish(j, false);
  ASSERT_TRUE(end.dest_died);
  Dest& d = *f.set.FindDest("relay", "mx");
  std::vector<Waiting> waiting = f.set.Kill(d, "connection refused", 5000);
  EXPECT_EQ(waiting.size(), 2u);  // message 2's recipients, to be deferred
  EXPECT_EQ(f.Dispatch().size(), 0u);
  Entry e{queue::MakeEnvId(3, 1), "a@x", "", 0, 0};
  Placement p = f.set.Place(3, e, "relay", "mx", kNow);
  EXPECT_FALSE(p.queued);
  EXPECT_EQ(p.dsn, "4.4.1");
  EXPECT_EQ(p.reason, "delivery temporarily suspended: connection refused");
  EXPECT_EQ(f.set.ReviveDue(4999), 5000);  // not yet; the next revival
  EXPECT_TRUE(d.window.dead());
  EXPECT_EQ(f.set.ReviveDue(5000), 0);
  EXPECT_FALSE(d.window.dead());
  f.Add(4, 1);
  EXPECT_EQ(f.Dispatch().size(), 1u);
}

TEST(ActiveSet, AThrottledTransportDefersEverywhereAndAPausedOneWaits) {
  Fixture f(Limits(5, 20, 1));
  f.Add(1, 1, "a");
  f.Add(2, 1, "b");
  EXPECT_EQ(f.Dispatch(true).size(), 0u);  // paused: nothing goes, all waits
  EXPECT_TRUE(f.set.IsWaiting(queue::MakeEnvId(1, 1)));
  Transport& t = *f.set.transports().at("relay");
  std::vector<Waiting> waiting;
  EXPECT_TRUE(f.set.Throttle(t, kNow, kNow + 60, "connect: no such file", &waiting));
  EXPECT_FALSE(f.set.Throttle(t, kNow, kNow + 60, "again", &waiting));  // already resting
  EXPECT_EQ(waiting.size(), 2u);
  Entry e{queue::MakeEnvId(3, 1), "a@x", "", 0, 0};
  Placement p = f.set.Place(3, e, "relay", "a", kNow);
  EXPECT_EQ(p.dsn, "4.3.0");
  EXPECT_EQ(p.reason, "delivery temporarily suspended: again");
  f.set.ReviveAll();  // postern flush
  EXPECT_TRUE(f.set.Place(3, e, "relay", "a", kNow).queued);
}

TEST(ActiveSet, ATransportWithBrokenParametersIsMisconfigured) {
  Fixture f(Limits(5, 20, 1));
  Entry e{queue::MakeEnvId(1, 1), "a@x", "", 0, 0};
  Placement p = f.set.Place(1, e, "broken", "x", kNow);
  EXPECT_FALSE(p.queued);
  EXPECT_EQ(p.dsn, "4.3.5");
  EXPECT_EQ(p.reason, "mail transport broken is misconfigured");
  EXPECT_EQ(p.warning, "transport broken: bad feedback \"x\"");
}

TEST(ActiveSet, ABusyTransportGetsTheJobBackInFront) {
  Fixture f(Limits(5, 20, 2));
  f.Add(1, 3);
  f.Add(2, 1);
  bool refuse = true;
  f.set.Dispatch(
      kNow, 1000, [](const Transport&) { return false; },
      [&](Job& j) {
        if (!refuse) return true;
        f.set.Return(j);
        return false;
      });
  EXPECT_EQ(f.set.busy(), 0);
  refuse = false;
  EXPECT_EQ(f.Dispatch(), (std::vector<size_t>{2, 1, 1}));
  EXPECT_EQ(f.started[0]->msg, 1u);
  EXPECT_EQ(f.started[2]->msg, 2u);
}

TEST(ActiveSet, BoundsAdmitEnvelopesOfMessagesInCoreOnly) {
  Fixture f(Limits(5, 20, 1), /*msgs=*/2, /*rcpts=*/5);
  f.Add(1, 1);
  EXPECT_TRUE(f.set.Admits(2));
  f.Add(2, 1);
  EXPECT_TRUE(f.set.Full());
  EXPECT_FALSE(f.set.Admits(3));  // a third message
  EXPECT_TRUE(f.set.Admits(1));   // more of one in core
  f.Add(1, 3);
  EXPECT_FALSE(f.set.Admits(1));  // five recipients in core
  EXPECT_FALSE(f.set.Uncount(1));
  EXPECT_TRUE(f.set.Admits(1));
}

TEST(ActiveSet, UnqueueTakesAWaitingEnvelopeButNotOneInFlight) {
  Fixture f(Limits(1, 20, 1));
  f.Add(1, 1);
  f.Add(2, 1);
  f.Dispatch();
  queue::EnvId flying = queue::MakeEnvId(1, 1), waiting = queue::MakeEnvId(2, 1);
  EXPECT_NE(f.set.JobOf(flying), nullptr);
  EXPECT_FALSE(f.set.Unqueue(flying));
  EXPECT_TRUE(f.set.IsWaiting(waiting));
  EXPECT_TRUE(f.set.Unqueue(waiting));
  EXPECT_FALSE(f.set.IsWaiting(waiting));
  EXPECT_TRUE(f.set.TakeAllWaiting().empty());
}

}  // namespace
}  // namespace postern::qmgr
