// metrics/exposition.h — the metrics page: postern's counters and gauges in
// Prometheus' text exposition format 0.0.4, from what one scrape gathered
// (master's live figures, the statistics store, the queue's counters).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace postern::metrics {

// A master.cf service as `show processes` reports it.
struct ServiceRow {
  std::string service, type, command;
  uint64_t busy = 0, idle = 0, limit = 0;
};

struct Snapshot {
  std::map<std::string, uint64_t> live;    // show stats: uptime, smtp.session.active (summed)
  std::map<std::string, uint64_t, std::less<>> totals;  // stats_database totals
  uint64_t incoming = 0, active = 0, deferred = 0, hold = 0, corrupt = 0;  // envelopes by state
  uint64_t messages = 0, bytes = 0, enqueued = 0, removed = 0;            // queue counters
  std::vector<ServiceRow> services;
};

// "key=value" lines summed by key (several smtpd workers answer show stats).
void AddLiveLines(std::string_view text, std::map<std::string, uint64_t>* live);
// "service|type|command|busy|idle|maxproc" lines; malformed lines are skipped.
std::vector<ServiceRow> ParseServices(std::string_view text);

std::string Render(const Snapshot& s);

}  // namespace postern::metrics
