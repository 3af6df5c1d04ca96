// log/limited.cc — once-per-interval warnings; see limited.h.
#include "postern/log/limited.h"

#include "postern/log/log.h"

namespace postern::log {

int64_t LimitedWarning::NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

bool LimitedWarning::Allow(int64_t now_ms) {
  if (now_ms - last_ms_ < interval_ms_) {
    ++suppressed_;
    return false;
  }
  last_ms_ = now_ms;
  return true;
}

std::string LimitedWarning::Text(std::string_view text) {
  std::string out(text);
  if (suppressed_) out += fmt::format(" ({} similar warning{} suppressed)", suppressed_, suppressed_ == 1 ? "" : "s");
  suppressed_ = 0;
  return out;
}

void LimitedWarning::Emit(std::string_view text) { Write(4, "warning: " + Text(text)); }

}  // namespace postern::log
