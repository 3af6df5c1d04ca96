// qmgr/policy_test.cc — table-driven checks of the concurrency window, the
// backoff and the per-transport parameter lookup with its fallbacks.
#include "qmgr/policy.h"

#include <gtest/gtest.h>

#include "qmgr/settings.h"

namespace postern::qmgr {
namespace {

TEST(Policy, ParseFeedback) {
  struct C {
    const char* text;
    bool ok;
    double value;
    bool per;
  };
  const C cases[] = {{"1", true, 1, false},         {"0.5", true, 0.5, false}, {"1/concurrency", true, 1, true},
                     {" 2 / concurrency ", true, 2, true}, {"", false, 0, false},    {"x", false, 0, false},
                     {"1/8", false, 0, false},       {"-1", false, 0, false}};
  for (const C& c : cases) {
    auto f = ParseFeedback(c.text);
    EXPECT_EQ(f.ok(), c.ok) << c.text;
    if (f.ok() && c.ok) {
      EXPECT_DOUBLE_EQ(f->value, c.value) << c.text;
      EXPECT_EQ(f->per_concurrency, c.per) << c.text;
    }
  }
}

WindowParams Params(int initial, int limit, int cohorts = 1) {
  WindowParams p;
  p.initial = initial;
  p.limit = limit;
  p.cohort_limit = cohorts;
  return p;
}

TEST(Window, StartsAtInitialCappedByLimit) {
  EXPECT_EQ(Window(Params(5, 20)).concurrency(), 5);
  EXPECT_EQ(Window(Params(5, 2)).concurrency(), 2);
  EXPECT_EQ(Window(Params(0, 20)).concurrency(), 1);
  EXPECT_EQ(Window(Params(5, 0)).concurrency(), 5);
}

TEST(Window, GrowsByOnePerSuccessWhileBusyUpToTheLimit) {
  Window w(Params(2, 4));
  // Busy deliveries keep the window in use, so each success adds one.
  w.Success(2);
  EXPECT_EQ(w.concurrency(), 3);
  w.Success(3);
  EXPECT_EQ(w.concurrency(), 4);
  w.Success(4);
  EXPECT_EQ(w.concurrency(), 4);  // the limit
}

TEST(Window, DoesNotGrowWhenUnused) {
  Window w(Params(2, 10));
  for (int i = 0; i < 10; ++i) w.Success(0);
  EXPECT_EQ(w.concurrency(), 2);
}

TEST(Window, PerConcurrencyFeedbackNeedsAWindowOfSuccesses) {
  WindowParams p = Params(4, 10);
  p.positive = {1, true};
  Window w(p);
  for (int i = 0; i < 3; ++i) w.Success(4);
  EXPECT_EQ(w.concurrency(), 4);
  w.Success(4);
  EXPECT_EQ(w.concurrency(), 5);
}

TEST(Window, ShrinksByOnePerFailureAndDiesAfterACohort) {
  // Each failure counts 1/window of a cohort at the window it failed in:
  // at 4, 3, 2 that is 1/4 + 1/3 + 1/2 > 1, so the third failure kills.
  Window w(Params(4, 10));
  EXPECT_FALSE(w.Failure());
  EXPECT_EQ(w.concurrency(), 3);
  EXPECT_FALSE(w.Failure());
  EXPECT_EQ(w.concurrency(), 2);
  EXPECT_TRUE(w.Failure());
  EXPECT_TRUE(w.dead());
  EXPECT_EQ(w.concurrency(), 0);
  EXPECT_FALSE(w.Failure());  // already dead
  w.Revive();
  EXPECT_EQ(w.concurrency(), 4);
}

TEST(Window, AWindowOfOneDiesAtItsFirstFailure) {
  Window w(Params(1, 10));
  EXPECT_TRUE(w.Failure());
}

TEST(Window, SuccessForgetsFailedCohorts) {
  Window w(Params(1, 10, 2));
  EXPECT_FALSE(w.Failure());  // one cohort of the two allowed
  w.Success(1);               // forgotten; the window grows to 2
  EXPECT_EQ(w.concurrency(), 2);
  EXPECT_FALSE(w.Failure());  // 1/2
  EXPECT_FALSE(w.Failure());  // 1/2 + 1
  EXPECT_TRUE(w.Failure());   // 1/2 + 1 + 1
}

TEST(Window, FailingFromAFailureUntilASuccess) {
  Window w(Params(5, 10, 2));
  EXPECT_FALSE(w.failing());
  EXPECT_FALSE(w.Failure());
  EXPECT_TRUE(w.failing());  // show routes: Q while this lasts
  w.Success(1);
  EXPECT_FALSE(w.failing());
}

TEST(Window, CohortLimitZeroNeverDies) {
  Window w(Params(1, 10, 0));
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(w.Failure());
  EXPECT_EQ(w.concurrency(), 1);
}

TEST(Backoff, DoublesFromMinimumToMaximum) {
  const struct {
    uint32_t attempts;
    int64_t min, max, want;
  } cases[] = {{1, 300, 4000, 300}, {2, 300, 4000, 600},  {3, 300, 4000, 1200}, {4, 300, 4000, 2400},
               {5, 300, 4000, 4000}, {50, 300, 4000, 4000}, {1, 0, 0, 1},          {3, 10, 5, 10}};
  for (const auto& c : cases) EXPECT_EQ(Backoff(c.attempts, c.min, c.max), c.want) << c.attempts;
}

TEST(Settings, PerTransportNamesFallBackToDefaults) {
  auto cfg = config::Config::Parse(
      "default_destination_concurrency_limit = 7\n"
      "default_destination_recipient_limit = 9\n"
      "slow_destination_concurrency_limit = 2\n"
      "slow_destination_recipient_limit = 1\n"
      "slow_destination_concurrency_negative_feedback = 1/concurrency\n");
  ASSERT_TRUE(cfg.ok()) << cfg.error();
  const struct {
    const char* transport;
    int limit, rcpts, initial;
    bool neg_per;
  } cases[] = {
      {"slow", 2, 1, 5, true},     // set in main.cf
      {"other", 7, 9, 5, false},   // unknown transport: the default_* values
      {"smtp", 7, 9, 5, false},    // registered as $default_...: follows it
      {"local", 2, 1, 5, false},   // registered with Postfix's own defaults
  };
  for (const auto& c : cases) {
    auto l = LimitsFor(*cfg, c.transport);
    ASSERT_TRUE(l.ok()) << c.transport << ": " << l.error();
    EXPECT_EQ(l->window.limit, c.limit) << c.transport;
    EXPECT_EQ(l->recipient_limit, c.rcpts) << c.transport;
    EXPECT_EQ(l->window.initial, c.initial) << c.transport;
    EXPECT_EQ(l->window.negative.per_concurrency, c.neg_per) << c.transport;
  }
}

}  // namespace
}  // namespace postern::qmgr
