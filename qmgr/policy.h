// qmgr/policy.h — the arithmetic of scheduling, kept apart so it can be tested
// alone: Postfix's per-destination concurrency window with positive/negative
// feedback and failed cohorts, and the retry backoff of deferred recipients.
#pragma once

#include <cstdint>
#include <string_view>

#include "postern/util/result.h"

namespace postern::qmgr {

// A feedback amount: "N" or "N/concurrency" (divided by the window at the time).
struct Feedback {
  double value = 1;
  bool per_concurrency = false;
  double At(double window) const { return per_concurrency && window > 0 ? value / window : value; }
};
Result<Feedback> ParseFeedback(std::string_view text);

struct WindowParams {
  int initial = 5;       // initial_destination_concurrency
  int limit = 20;        // <transport>_destination_concurrency_limit, 0 = none
  Feedback positive, negative;
  int cohort_limit = 1;  // failed cohorts before the destination is dead, 0 = never
};

// How many deliveries may run at once to one destination. Starts at the
// initial concurrency, grows by the positive feedback after each delivery that
// reached the destination (while the window is being used), shrinks by the
// negative feedback after each that did not, down to 1; a whole window of
// failures (a cohort) counts one failed cohort, and at cohort_limit the
// destination is dead (window 0) until Revive().
class Window {
 public:
  explicit Window(const WindowParams& p);
  int concurrency() const { return static_cast<int>(window_); }
  bool dead() const { return window_ <= 0; }
  // Failures since the last success count towards a failed cohort.
  bool failing() const { return fail_cohorts_ > 0; }
  // busy: deliveries to the destination still running.
  void Success(int busy);
  // True when this failure made the destination dead.
  bool Failure();
  void Revive();
  // New limits and feedback (`set option`): the window keeps its size, cut
  // down to a lower limit.
  void SetParams(const WindowParams& p);

 private:
  WindowParams p_;
  double window_;
  double success_ = 0, failure_ = 0, fail_cohorts_ = 0;
};

// Seconds until the next attempt after `attempts` failed ones (≥ 1):
// minimal_backoff_time doubled per earlier attempt, at most maximal_backoff_time.
int64_t Backoff(uint32_t attempts, int64_t min_backoff, int64_t max_backoff);

}  // namespace postern::qmgr
