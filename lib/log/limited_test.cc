// log/limited_test.cc — a persisting condition gives one warning per interval.
#include "postern/log/limited.h"

#include <gtest/gtest.h>

namespace postern::log {
namespace {

TEST(LimitedWarning, OneLinePerIntervalCountingTheRest) {
  LimitedWarning w(std::chrono::seconds(10));
  EXPECT_TRUE(w.Allow(1000));
  EXPECT_EQ(w.Text("disk full"), "disk full");
  for (int t = 1001; t < 11000; t += 10) EXPECT_FALSE(w.Allow(t));
  EXPECT_EQ(w.suppressed(), 1000u);
  EXPECT_TRUE(w.Allow(11000));
  EXPECT_EQ(w.Text("disk full"), "disk full (1000 similar warnings suppressed)");
  EXPECT_FALSE(w.Allow(11001));
  EXPECT_TRUE(w.Allow(21000));
  EXPECT_EQ(w.Text("x"), "x (1 similar warning suppressed)");
  EXPECT_TRUE(w.Allow(40000));
  EXPECT_EQ(w.Text("x"), "x");
}

TEST(LimitedWarning, ClearLetsTheNextOneThrough) {
  LimitedWarning w(std::chrono::seconds(10));
  EXPECT_TRUE(w.Allow(0));
  EXPECT_FALSE(w.Allow(5));
  w.Clear();
  EXPECT_TRUE(w.Allow(6));
}

}  // namespace
}  // namespace postern::log
