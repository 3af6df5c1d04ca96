// qmgr/recorder_test.cc — a recipient's outcome → its queue change, its reports
// and its log lines (backoff, expiry, delay warnings, success notices), and the
// notifier's choice of notice and the settlement of bounce's answer.
#include "qmgr/recorder.h"

#include <gtest/gtest.h>

#include "qmgr/notifier.h"

namespace postern::qmgr {
namespace {

constexpr int64_t kArrival = 1'700'000'000;

Settings TestSettings() {
  Settings s;
  s.min_backoff = 300;
  s.max_backoff = 4000;
  s.lifetimes = {86400, 3600};
  s.delay_warning = 4 * 3600;
  return s;
}

Message AMessage(std::string sender = "s@example.org") {
  Message m;
  m.rec.arrival = kArrival;
  m.rec.sender = std::move(sender);
  return m;
}

TEST(Recorder, OutcomesBecomeQueueChangesAndReports) {
  using S = ipc::DeliveryStatus;
  using T = Change::Then;
  const struct {
    const char* name;
    S status;
    uint32_t attempts;
    int64_t age;
    T then;
    int64_t retry_in;  // kUpdate: next_attempt - ceil(now)
    size_t failed, delayed;
  } cases[] = {
      {"sent: removed", S::kSent, 0, 10, T::kRemove, 0, 0, 0},
      {"bounced: reported", S::kBounced, 0, 10, T::kReport, 0, 1, 0},
      {"first deferral: minimal backoff", S::kDeferred, 0, 10, T::kUpdate, 300, 0, 0},
      {"third deferral: doubled twice", S::kDeferred, 2, 10, T::kUpdate, 1200, 0, 0},
      {"many deferrals: maximal backoff", S::kDeferred, 9, 10, T::kUpdate, 4000, 0, 0},
      {"deferred past delay_warning_time", S::kDeferred, 1, 5 * 3600, T::kUpdate, 600, 0, 1},
      {"deferred past the lifetime: expired", S::kDeferred, 3, 86400, T::kReport, 0, 1, 0},
  };
  for (const auto& c : cases) {
    Settings s = TestSettings();
    Stats stats;
    Recorder rec(s, stats);
    Message m = AMessage();
    Entry e{queue::MakeEnvId(1, 1), "r@x", "", 0, c.attempts};
    Outcome o;
    o.status = c.status;
    o.dsn = "4.4.1";
    o.reason = "connection refused";
    int64_t now_ms = (kArrival + c.age) * 1000 + 250;
    Change ch = rec.Record(m, 1, e, o, now_ms);
    EXPECT_EQ(ch.then, c.then) << c.name;
    if (c.then == T::kUpdate) {
      EXPECT_EQ(*ch.update.next_attempt, kArrival + c.age + 1 + c.retry_in) << c.name;
      EXPECT_EQ(*ch.update.attempts, c.attempts + 1) << c.name;
      EXPECT_EQ(*ch.update.state, queue::State::kDeferred) << c.name;
      EXPECT_EQ(*ch.update.last_error, "connection refused") << c.name;
    }
    EXPECT_EQ(m.failed.size(), c.failed) << c.name;
    EXPECT_EQ(m.delayed.size(), c.delayed) << c.name;
  }
}

TEST(Recorder, QmgrsOwnDeferralsAreLoggedAndExpiryIsSaidOncePerMessage) {
  Settings s = TestSettings();
  Stats stats;
  Recorder rec(s, stats);
  Message m = AMessage();
  Outcome o;
  o.dsn = "4.3.0";
  o.reason = "mail transport unavailable";
  o.log_it = true;
  int64_t late = (kArrival + 86400) * 1000;
  Change a = rec.Record(m, 0x9f3a01c2, {queue::MakeEnvId(0x9f3a01c2, 1), "a@x", "", 0, 0}, o, late);
  Change b = rec.Record(m, 0x9f3a01c2, {queue::MakeEnvId(0x9f3a01c2, 2), "b@x", "", 0, 0}, o, late);
  ASSERT_EQ(a.info.size(), 2u);
  EXPECT_EQ(a.info[0],
            "9f3a01c2: to=<a@x>, relay=none, delay=86400, delays=86400/0/0/0, dsn=4.3.0, status=deferred (mail "
            "transport unavailable)");
  EXPECT_EQ(a.info[1], "9f3a01c2: from=<s@example.org>, status=expired, returned to sender");
  EXPECT_EQ(b.info.size(), 1u);  // its deferral; the message's expiry was said
  EXPECT_TRUE(a.expired && b.expired);
  EXPECT_EQ(stats.expired, 2u);
}

TEST(Recorder, NullSenderExpiresAfterTheBounceLifetime) {
  Settings s = TestSettings();
  Stats stats;
  Recorder rec(s, stats);
  Message m = AMessage("");
  EXPECT_EQ(rec.ExpiryOf(m), kArrival + 3600);
  Outcome o;
  o.reason = "later";
  Change c = rec.Record(m, 1, {queue::MakeEnvId(1, 1), "a@x", "", 0, 0}, o, (kArrival + 3600) * 1000);
  EXPECT_EQ(c.then, Change::Then::kReport);
  EXPECT_EQ(m.failed.size(), 1u);
}

TEST(Recorder, SuccessNoticeKeepsTheEnvelopeUnlessTheServerTookNotifyOn) {
  const struct {
    bool relayed_without_dsn, passed_on;
    std::string sender;
    bool kept;
    const char* action;
  } cases[] = {{false, false, "s@x", true, "delivered"},
               {true, true, "s@x", true, "relayed"},
               {false, true, "s@x", false, ""},
               {false, false, "", false, ""}};
  for (const auto& c : cases) {
    Settings s = TestSettings();
    Stats stats;
    Recorder rec(s, stats);
    Message m = AMessage(c.sender);
    Outcome o;
    o.status = ipc::DeliveryStatus::kSent;
    o.relayed_without_dsn = c.relayed_without_dsn;
    o.dsn_passed_on = c.passed_on;
    Change ch = rec.Record(m, 1, {queue::MakeEnvId(1, 1), "a@x", "", queue::kNotifySuccess, 0}, o, kArrival * 1000);
    EXPECT_EQ(ch.then, c.kept ? Change::Then::kReport : Change::Then::kRemove) << c.action;
    ASSERT_EQ(m.succeeded.size(), c.kept ? 1u : 0u);
    if (c.kept) EXPECT_EQ(m.succeeded[0].rcpt.action, c.action);
  }
}

TEST(Notifier, FailuresFirstThenSuccessThenDelayAndAnswersSettleTheEnvelopes) {
  Settings s = TestSettings();
  Notifier n(s);
  Message m = AMessage();
  m.failed.push_back({11, {"a@x", "", 0, "failed", "5.1.1", "no such user", "mx"}});
  m.delayed.push_back({12, {"b@x", "", 0, "delayed", "4.4.1", "refused", "none"}});
  auto first = n.Next(1, m);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->kind, ipc::NoticeKind::kFailed);
  EXPECT_EQ(first->request.recipients.size(), 1u);
  // Bounce failed: the recipient waits, reported again later.
  Settlement no = n.Settle(m, *first, {false, 0, "timed out"}, kArrival);
  EXPECT_TRUE(no.remove.empty());
  ASSERT_EQ(no.update.size(), 1u);
  EXPECT_EQ(*no.update[0].second.next_attempt, kArrival + 300);
  Settlement yes = n.Settle(m, *first, {true, 77, ""}, kArrival);
  EXPECT_EQ(yes.remove, std::vector<queue::EnvId>{11});
  EXPECT_TRUE(yes.queued);
  auto second = n.Next(1, m);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->kind, ipc::NoticeKind::kDelayed);
  Settlement warned = n.Settle(m, *second, {true, 78, ""}, kArrival);
  EXPECT_TRUE(warned.delay_warned);
  EXPECT_TRUE(warned.remove.empty());  // a delayed recipient stays queued
  EXPECT_TRUE(m.rec.flags & queue::kFlagDelayWarned);
  EXPECT_FALSE(n.Next(1, m));
}

}  // namespace
}  // namespace postern::qmgr
