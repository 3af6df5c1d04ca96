// stats/keys.h — names of the counters that carry a dimension in the key
// (rejects by stage and status, deliveries by transport, the delivery delay
// histogram), shared by the processes that count them and the metrics(8)
// service that reads them back as labels.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace postern::stats {

// smtpd's "reject:" lines: smtp.reject.<stage>.<code>.<enhanced status>,
// the stage in lower case ("rcpt", "end-of-message").
std::string RejectKey(std::string_view stage, int code, std::string_view enhanced);
struct RejectLabels {
  std::string stage, code, status;
};
std::optional<RejectLabels> ParseRejectKey(std::string_view key);

// Delivery results per transport: scheduler.delivery.<outcome>.<transport>,
// outcome ok | tempfail | permfail (beside the totals scheduler.delivery.<outcome>).
std::string DeliveryKey(std::string_view outcome, std::string_view transport);
struct DeliveryLabels {
  std::string outcome, transport;
};
std::optional<DeliveryLabels> ParseDeliveryKey(std::string_view key);

// The delay of successful deliveries (arrival to status=sent), a cumulative
// histogram: scheduler.delivery.delay.le.<bound> counts the deliveries that
// took at most bound seconds; .count all of them, .sum_ms their sum in ms.
std::span<const double> DelayBuckets();
std::string DelayBucketKey(double bound);
std::string BoundText(double bound);  // "0.1", "60": as in the key and the le label
inline constexpr std::string_view kDelayCountKey = "scheduler.delivery.delay.count";
inline constexpr std::string_view kDelaySumMsKey = "scheduler.delivery.delay.sum_ms";

}  // namespace postern::stats
