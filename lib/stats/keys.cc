// stats/keys.cc — see keys.h.
#include "postern/stats/keys.h"

#include <fmt/format.h>

#include "postern/util/strings.h"

namespace postern::stats {

namespace {

constexpr std::string_view kRejectPrefix = "smtp.reject.";
constexpr std::string_view kDeliveryPrefix = "scheduler.delivery.";
constexpr std::string_view kOutcomes[] = {"ok", "tempfail", "permfail"};
// From a tenth of a second (a relay next door) to a day (a long backlog).
constexpr double kDelayBuckets[] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400};

}  // namespace

std::string RejectKey(std::string_view stage, int code, std::string_view enhanced) {
  return fmt::format("{}{}.{}.{}", kRejectPrefix, ToLower(stage), code, enhanced);
}

std::optional<RejectLabels> ParseRejectKey(std::string_view key) {
  if (!key.starts_with(kRejectPrefix)) return std::nullopt;
  key.remove_prefix(kRejectPrefix.size());
  size_t a = key.find('.');
  if (a == std::string_view::npos) return std::nullopt;
  size_t b = key.find('.', a + 1);
  if (b == std::string_view::npos || b == a + 1 || b + 1 >= key.size()) return std::nullopt;
  return RejectLabels{std::string(key.substr(0, a)), std::string(key.substr(a + 1, b - a - 1)),
                      std::string(key.substr(b + 1))};
}

std::string DeliveryKey(std::string_view outcome, std::string_view transport) {
  return fmt::format("{}{}.{}", kDeliveryPrefix, outcome, transport);
}

std::optional<DeliveryLabels> ParseDeliveryKey(std::string_view key) {
  if (!key.starts_with(kDeliveryPrefix)) return std::nullopt;
  key.remove_prefix(kDeliveryPrefix.size());
  for (auto o : kOutcomes) {
    if (key.size() > o.size() + 1 && key.starts_with(o) && key[o.size()] == '.')
      return DeliveryLabels{std::string(o), std::string(key.substr(o.size() + 1))};
  }
  return std::nullopt;
}

std::span<const double> DelayBuckets() { return kDelayBuckets; }

std::string BoundText(double bound) { return fmt::format("{}", bound); }

std::string DelayBucketKey(double bound) { return "scheduler.delivery.delay.le." + BoundText(bound); }

}  // namespace postern::stats
