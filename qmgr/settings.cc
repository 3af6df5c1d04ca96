// qmgr/settings.cc — reading qmgr's parameters; per-transport names fall back
// to their default_* (or plain) parameter when neither main.cf nor master.cf sets them.
#include "qmgr/settings.h"

#include <algorithm>

#include "postern/log/log.h"

namespace postern::qmgr {

namespace {

Result<int64_t> Seconds(const config::Config& cfg, std::string_view name) {
  auto t = cfg.GetTime(name);
  if (!t) return Err(t.error());
  return static_cast<int64_t>(t->count());
}

Result<long long> NonNegative(const config::Config& cfg, std::string_view name) {
  auto v = cfg.GetInt(name);
  if (!v) return Err(v.error());
  if (*v < 0) return Err(std::string(name) + " must not be negative");
  return *v;
}

// transport + suffix when it is set (or registered), else `fallback`.
std::string PerTransport(const config::Config& cfg, const std::string& transport, std::string_view suffix,
                         std::string_view fallback) {
  std::string name = transport + std::string(suffix);
  return cfg.Raw(name) ? name : std::string(fallback);
}

}  // namespace

Result<Settings> Settings::FromConfig(const config::Config& cfg) {
  Settings s;
  auto dir = cfg.Get("queue_directory");
  if (!dir) return Err(dir.error());
  s.queue_directory = *dir;
  struct {
    const char* name;
    int64_t* out;
  } times[] = {{"minimal_backoff_time", &s.min_backoff},   {"maximal_backoff_time", &s.max_backoff},
               {"queue_run_delay", &s.queue_run_delay},     {"transport_retry_time", &s.transport_retry}};
  for (auto& t : times) {
    auto v = Seconds(cfg, t.name);
    if (!v) return Err(v.error());
    *t.out = *v;
  }
  auto lifetimes = queue::Lifetimes::FromConfig(cfg);
  if (!lifetimes) return Err(lifetimes.error());
  s.lifetimes = *lifetimes;
  if (auto warn = Seconds(cfg, "delay_warning_time")) {
    s.delay_warning = *warn;
  } else {
    log::Warning("delay_warning_time: {}; no delay warnings", warn.error());
  }
  auto msgs = NonNegative(cfg, "qmgr_message_active_limit");
  if (!msgs) return Err(msgs.error());
  auto rcpts = NonNegative(cfg, "qmgr_message_recipient_limit");
  if (!rcpts) return Err(rcpts.error());
  s.message_active_limit = static_cast<size_t>(std::max(1LL, *msgs));
  s.recipient_active_limit = static_cast<size_t>(std::max(1LL, *rcpts));
  return s;
}

Result<TransportLimits> LimitsFor(const config::Config& cfg, const std::string& transport) {
  TransportLimits l;
  struct {
    const char* suffix;
    const char* fallback;
    int* out;
  } ints[] = {
      {"_destination_concurrency_limit", "default_destination_concurrency_limit", &l.window.limit},
      {"_initial_destination_concurrency", "initial_destination_concurrency", &l.window.initial},
      {"_destination_concurrency_failed_cohort_limit", "default_destination_concurrency_failed_cohort_limit",
       &l.window.cohort_limit},
      {"_destination_recipient_limit", "default_destination_recipient_limit", &l.recipient_limit},
  };
  for (auto& i : ints) {
    std::string name = PerTransport(cfg, transport, i.suffix, i.fallback);
    auto v = NonNegative(cfg, name);
    if (!v) return Err(v.error());
    *i.out = static_cast<int>(std::min(*v, 1000000LL));
  }
  struct {
    const char* suffix;
    const char* fallback;
    Feedback* out;
  } feedbacks[] = {
      {"_destination_concurrency_positive_feedback", "default_destination_concurrency_positive_feedback",
       &l.window.positive},
      {"_destination_concurrency_negative_feedback", "default_destination_concurrency_negative_feedback",
       &l.window.negative},
  };
  for (auto& f : feedbacks) {
    std::string name = PerTransport(cfg, transport, f.suffix, f.fallback);
    auto text = cfg.Get(name);
    if (!text) return Err(text.error());
    auto fb = ParseFeedback(*text);
    if (!fb) return Err(name + ": " + fb.error());
    *f.out = *fb;
  }
  return l;
}

}  // namespace postern::qmgr
