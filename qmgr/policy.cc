// qmgr/policy.cc — concurrency window and backoff (see policy.h), after the
// shape of Postfix's qmgr_queue_throttle/unthrottle with default feedback.
#include "qmgr/policy.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "postern/util/strings.h"

namespace postern::qmgr {

Result<Feedback> ParseFeedback(std::string_view text) {
  text = Trim(text);
  Feedback f;
  std::string_view num = text;
  if (size_t slash = text.find('/'); slash != std::string_view::npos) {
    if (Trim(text.substr(slash + 1)) != "concurrency") return Err("bad feedback \"" + std::string(text) + "\"");
    f.per_concurrency = true;
    num = Trim(text.substr(0, slash));
  }
  if (num.empty() || num.size() > 32) return Err("bad feedback \"" + std::string(text) + "\"");
  std::string n(num);
  char* end = nullptr;
  double v = std::strtod(n.c_str(), &end);
  if (end != n.c_str() + n.size() || !(v >= 0) || v > 1e6) return Err("bad feedback \"" + std::string(text) + "\"");
  f.value = v;
  return f;
}

Window::Window(const WindowParams& p) : p_(p) {
  int start = std::max(1, p.initial);
  if (p.limit > 0) start = std::min(start, p.limit);
  window_ = start;
}

void Window::Success(int busy) {
  fail_cohorts_ = 0;
  if (dead()) return;
  // Grow only while the window is in use, as Postfix does: an idle
  // destination proves nothing about how much more it can take.
  if (p_.limit > 0 && window_ >= p_.limit) return;
  if (window_ >= busy + std::max(1, p_.initial)) return;
  success_ += p_.positive.At(window_);
  while (success_ >= 1) {
    window_ += 1;
    success_ -= 1;
    failure_ = 0;
  }
  if (p_.limit > 0 && window_ > p_.limit) window_ = p_.limit;
}

bool Window::Failure() {
  if (dead()) return false;
  double w = window_;
  failure_ += p_.negative.At(window_);
  while (failure_ >= 1 && window_ > 1) {
    window_ -= 1;
    failure_ -= 1;
    success_ = 0;
  }
  if (failure_ >= 1) failure_ = 0;  // already at 1: nothing left to take away
  fail_cohorts_ += 1.0 / w;
  if (p_.cohort_limit > 0 && fail_cohorts_ >= p_.cohort_limit - 1e-9) {
    window_ = 0;
    return true;
  }
  return false;
}

void Window::Revive() {
  *this = Window(p_);
}

void Window::SetParams(const WindowParams& p) {
  p_ = p;
  if (p_.limit > 0 && window_ > p_.limit) window_ = p_.limit;
}

int64_t Backoff(uint32_t attempts, int64_t min_backoff, int64_t max_backoff) {
  int64_t d = std::max<int64_t>(min_backoff, 1);
  for (uint32_t i = 1; i < attempts && d < max_backoff; ++i) d *= 2;
  return std::max<int64_t>(1, std::min(d, std::max(max_backoff, min_backoff)));
}

}  // namespace postern::qmgr
