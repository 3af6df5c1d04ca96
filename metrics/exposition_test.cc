// metrics/exposition_test.cc — the metrics page from a known snapshot: label
// dimensions decoded from the counter keys, the cumulative histogram, the
// per-service process gauges and the parsers of master's answers.
#include "metrics/exposition.h"

#include <gtest/gtest.h>

#include "postern/stats/keys.h"

namespace postern::metrics {
namespace {

bool Has(const std::string& page, const std::string& line) {
  return page.find("\n" + line + "\n") != std::string::npos;
}

TEST(MetricsPage, RendersEveryFamilyFromTheSnapshot) {
  Snapshot s;
  AddLiveLines("uptime=42\nuptime.human=0d0h0m42s\nsmtp.session.active=0\nsmtp.session.active=2\n", &s.live);
  s.services = ParseServices("smtp|inet|smtpd|1|2|100\nqmgr|unix|qmgr|0|1|1\nbroken|line\n");
  s.totals[stats::RejectKey("RCPT", 554, "5.7.1")] = 3;
  s.totals[stats::DeliveryKey("ok", "smtp")] = 5;
  s.totals[stats::DeliveryKey("tempfail", "smtp")] = 1;
  s.totals["scheduler.delivery.ok"] = 5;
  s.totals["smtp.message"] = 7;
  s.totals["smtp.session.inet4"] = 9;
  for (double b : stats::DelayBuckets()) s.totals[stats::DelayBucketKey(b)] = b >= 1 ? 5 : 2;
  s.totals[std::string(stats::kDelayCountKey)] = 5;
  s.totals[std::string(stats::kDelaySumMsKey)] = 2500;
  s.deferred = 1;
  s.messages = 1;
  std::string page = Render(s);
  for (const char* line : {
           "# TYPE postern_queue_envelopes gauge",
           "postern_queue_envelopes{state=\"deferred\"} 1",
           "postern_queue_messages 1",
           "postern_smtpd_sessions_active 2",
           "postern_smtpd_sessions_total{family=\"inet4\"} 9",
           "postern_smtpd_messages_accepted_total 7",
           "postern_smtpd_rejects_total{stage=\"rcpt\",code=\"554\",status=\"5.7.1\"} 3",
           "postern_deliveries_total{transport=\"smtp\",status=\"sent\"} 5",
           "postern_deliveries_total{transport=\"smtp\",status=\"deferred\"} 1",
           "# TYPE postern_delivery_delay_seconds histogram",
           "postern_delivery_delay_seconds_bucket{le=\"0.5\"} 2",
           "postern_delivery_delay_seconds_bucket{le=\"1\"} 5",
           "postern_delivery_delay_seconds_bucket{le=\"+Inf\"} 5",
           "postern_delivery_delay_seconds_sum 2.5",
           "postern_delivery_delay_seconds_count 5",
           "postern_master_uptime_seconds 42",
           "postern_master_processes{service=\"smtp\",type=\"inet\",command=\"smtpd\",state=\"busy\"} 1",
           "postern_master_processes{service=\"smtp\",type=\"inet\",command=\"smtpd\",state=\"idle\"} 2",
           "postern_master_process_limit{service=\"qmgr\",type=\"unix\",command=\"qmgr\"} 1",
       })
    EXPECT_TRUE(Has(page, line)) << line << "\n" << page;
  EXPECT_EQ(s.services.size(), 2u);
  // Every family has its HELP and TYPE once, before its samples.
  EXPECT_EQ(page.find("# HELP postern_queue_envelopes "), 0u);
}

TEST(MetricsKeys, RoundTripTheirLabels) {
  auto r = stats::ParseRejectKey(stats::RejectKey("END-OF-MESSAGE", 552, "5.3.4"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->stage, "end-of-message");
  EXPECT_EQ(r->code, "552");
  EXPECT_EQ(r->status, "5.3.4");
  auto d = stats::ParseDeliveryKey(stats::DeliveryKey("permfail", "relay.x"));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->outcome, "permfail");
  EXPECT_EQ(d->transport, "relay.x");
  EXPECT_FALSE(stats::ParseDeliveryKey("scheduler.delivery.ok"));
  EXPECT_FALSE(stats::ParseDeliveryKey("scheduler.delivery.loop"));
  EXPECT_FALSE(stats::ParseDeliveryKey("scheduler.delivery.delay.count"));
  EXPECT_FALSE(stats::ParseRejectKey("smtp.recipient"));
  EXPECT_EQ(stats::BoundText(0.1), "0.1");
  EXPECT_EQ(stats::BoundText(60), "60");
}

}  // namespace
}  // namespace postern::metrics
