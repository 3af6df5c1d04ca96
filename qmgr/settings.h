// qmgr/settings.h — qmgr's view of main.cf: scan and retry timing, active-set
// bounds, and the per-transport limits looked up as Postfix does
// (<transport>_destination_concurrency_limit, falling back to the default_*).
#pragma once

#include <cstdint>
#include <string>

#include "postern/config/maincf.h"
#include "postern/queue/lifetime.h"
#include "postern/util/result.h"
#include "qmgr/policy.h"

namespace postern::qmgr {

struct TransportLimits {
  WindowParams window;
  int recipient_limit = 50;  // recipients in one delivery request, 0 = no limit
};

struct Settings {
  std::string queue_directory;
  int64_t min_backoff = 300, max_backoff = 4000, queue_run_delay = 300, transport_retry = 60;
  queue::Lifetimes lifetimes;  // expiry: qmgr's decision alone (the queue stores none)
  int64_t delay_warning = 0;   // delay_warning_time, 0 = no delay warnings
  size_t message_active_limit = 20000, recipient_active_limit = 20000;

  static Result<Settings> FromConfig(const config::Config& cfg);
};

// The limits of one transport (a master.cf service name).
Result<TransportLimits> LimitsFor(const config::Config& cfg, const std::string& transport);

}  // namespace postern::qmgr
