// server/watchdog.cc — see watchdog.h. The signal handler only counts steps;
// the loop resets the count. Like Postfix's, the handler logs the fatal line
// itself (a wedged loop will never run again), with a 5 s alarm behind it in
// case logging itself is what hangs (killme_after).
#include "postern/server/watchdog.h"

#include <signal.h>
#include <sys/time.h>

#include <algorithm>

#include "postern/log/log.h"

namespace postern::server {

namespace {

constexpr int kSteps = 3;  // WATCHDOG_STEPS
constexpr unsigned kKillAfterSeconds = 5;

volatile sig_atomic_t g_trips = 0;
long g_step_ms = 0;

void ArmStep() {
  itimerval t{};
  t.it_value.tv_sec = g_step_ms / 1000;
  t.it_value.tv_usec = (g_step_ms % 1000) * 1000;
  setitimer(ITIMER_REAL, &t, nullptr);
}

void OnAlarm(int) {
  // One more step than Postfix counts: the steps run at a fixed phase, so
  // this many ticks span at least a whole timeout since the last pat.
  g_trips = g_trips + 1;
  if (g_trips <= kSteps) return ArmStep();
  signal(SIGALRM, SIG_DFL);
  alarm(kKillAfterSeconds);
  log::Fatal("watchdog timeout");
}

}  // namespace

Watchdog::Watchdog(uv_loop_t* loop, std::chrono::milliseconds timeout, std::function<bool()> turn_counts)
    : turn_counts_(std::move(turn_counts)) {
  if (timeout.count() <= 0) {
    check_.Abandon();
    beat_.Abandon();
    return;
  }
  g_step_ms = std::max<long>(1, long(timeout.count()) / kSteps);
  g_trips = 0;
  struct sigaction sa {};
  sa.sa_handler = OnAlarm;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, nullptr);
  ArmStep();
  uv_check_init(loop, check_.get());
  check_.get()->data = this;
  uv_check_start(check_.get(), [](uv_check_t* h) {
    auto* self = static_cast<Watchdog*>(h->data);
    if (self && self->turn_counts_()) Pat();
  });
  uv_unref(check_.base());
  // Half a step: an idle loop turns (and pats) at least once per step.
  uint64_t beat = std::max<uint64_t>(1, uint64_t(g_step_ms) / 2);
  uv_timer_init(loop, beat_.get());
  uv_timer_start(beat_.get(), [](uv_timer_t*) {}, beat, beat);
  uv_unref(beat_.base());
}

Watchdog::~Watchdog() {
  if (g_step_ms == 0) return;
  itimerval off{};
  setitimer(ITIMER_REAL, &off, nullptr);
  signal(SIGALRM, SIG_DFL);
  g_step_ms = 0;
}

void Watchdog::Pat() { g_trips = 0; }

}  // namespace postern::server
