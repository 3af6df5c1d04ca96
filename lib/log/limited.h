// log/limited.h — a warning about a condition that persists (a full disk, a
// queue that cannot commit) is logged once per interval, as Postfix logs once
// and sleeps; the repeats in between are counted into the next line.
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace postern::log {

class LimitedWarning {
 public:
  explicit LimitedWarning(std::chrono::milliseconds interval) : interval_ms_(interval.count()) {}

  // Logs "warning: text" unless one was logged less than an interval ago;
  // the line after a quiet interval says how many were left out.
  template <class... A>
  void Warn(fmt::format_string<A...> f, A&&... a) {
    if (Allow(NowMs())) Emit(fmt::format(f, std::forward<A>(a)...));
  }
  // The condition is over: the next warning is logged at once.
  void Clear() { last_ms_ = kNever; }

  // For Warn and for tests: whether a warning at `now_ms` is logged (counted if not).
  bool Allow(int64_t now_ms);
  // The text to log for a warning that Allow() let through.
  std::string Text(std::string_view text);
  uint64_t suppressed() const { return suppressed_; }

 private:
  static constexpr int64_t kNever = INT64_MIN / 2;
  static int64_t NowMs();
  void Emit(std::string_view text);
  int64_t interval_ms_;
  int64_t last_ms_ = kNever;
  uint64_t suppressed_ = 0;
};

}  // namespace postern::log
