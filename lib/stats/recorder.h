// stats/recorder.h — a process's counters on their way to the statistics
// database: Count() only adds to memory; a timer writes the batch every
// stats_flush_interval in one transaction, and once more at exit. Count()
// before Start() (unit tests, commands) is a no-op.
#pragma once

#include <uv.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "postern/config/maincf.h"

namespace postern::stats {

// Opens nothing yet: the database is opened at the first flush, so a
// process that counts nothing never touches it.
void StartRecorder(uv_loop_t* loop, const config::Config& cfg);
void Count(std::string_view name, uint64_t n = 1);
void CountRoute(std::string_view route, std::string_view name, uint64_t n = 1);
// One delivery result: "ok", "tempfail" or "permfail", counted as
// scheduler.delivery.<outcome>, per transport (keys.h) and per route
// (transport:nexthop); an "ok" with delay_seconds >= 0 (arrival to now) also
// goes into the delivery delay histogram.
void CountDelivery(std::string_view route, std::string_view outcome, double delay_seconds = -1);
// Writes what is pending now (the timer and exit do this on their own).
void FlushRecorder();
// What this process counted since it started (flushed or not).
const std::map<std::string, uint64_t, std::less<>>& ProcessCounters();

}  // namespace postern::stats
