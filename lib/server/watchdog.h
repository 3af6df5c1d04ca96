// server/watchdog.h — Postfix's watchdog (watchdog.c) for a worker: SIGALRM in
// steps of daemon_timeout/3; a worker that has made no progress for three
// steps ends with "fatal: watchdog timeout" (master logs the exit).
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>

#include "postern/event/event.h"

namespace postern::server {

// One per process (it owns SIGALRM). Progress is a loop turn while
// `turn_counts` says so (the check phase pats), or an explicit Pat().
class Watchdog {
 public:
  // A zero timeout disables the watchdog.
  Watchdog(uv_loop_t* loop, std::chrono::milliseconds timeout, std::function<bool()> turn_counts);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Progress: the next three steps start again.
  static void Pat();

 private:
  event::Handle<uv_check_t> check_;   // pats after every loop turn
  event::Handle<uv_timer_t> beat_;    // turns an idle loop within each step
  std::function<bool()> turn_counts_;
};

}  // namespace postern::server
