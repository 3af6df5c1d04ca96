// metrics/exposition.cc — see exposition.h; man/metrics.8 lists every family.
#include "metrics/exposition.h"

#include <fmt/format.h>

#include <utility>

#include "postern/stats/keys.h"
#include "postern/util/strings.h"

namespace postern::metrics {

namespace {

using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

std::string Escape(std::string_view v) {
  std::string o;
  for (char c : v) {
    if (c == '\\' || c == '"') o += '\\';
    if (c == '\n') {
      o += "\\n";
      continue;
    }
    o += c;
  }
  return o;
}

class Page {
 public:
  void Family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void Sample(std::string_view name, const Labels& labels, std::string_view value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      for (size_t i = 0; i < labels.size(); ++i)
        out_ += fmt::format("{}{}=\"{}\"", i ? "," : "", labels[i].first, Escape(labels[i].second));
      out_ += '}';
    }
    out_ += fmt::format(" {}\n", value);
  }
  void Sample(std::string_view name, const Labels& labels, uint64_t value) {
    Sample(name, labels, std::to_string(value));
  }
  // A family of one unlabelled sample.
  void One(std::string_view name, std::string_view type, std::string_view help, uint64_t value) {
    Family(name, type, help);
    Sample(name, {}, value);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

uint64_t Get(const std::map<std::string, uint64_t, std::less<>>& m, std::string_view key) {
  auto it = m.find(key);
  return it == m.end() ? 0 : it->second;
}

void Queue(const Snapshot& s, Page& p) {
  p.Family("postern_queue_envelopes", "gauge", "Envelopes (one per recipient) in the queue, by state.");
  for (auto [state, n] : {std::pair<std::string_view, uint64_t>{"incoming", s.incoming}, {"active", s.active},
                          {"deferred", s.deferred}, {"hold", s.hold}, {"corrupt", s.corrupt}})
    p.Sample("postern_queue_envelopes", {{"state", state}}, n);
  p.One("postern_queue_messages", "gauge", "Messages in the queue.", s.messages);
  p.One("postern_queue_size_bytes", "gauge", "Bytes of message content in the queue.", s.bytes);
  p.One("postern_queue_messages_enqueued_total", "counter", "Messages queued since the queue was created.",
        s.enqueued);
  p.One("postern_queue_envelopes_removed_total", "counter",
        "Envelopes removed from the queue (delivered, bounced, expired or removed) since it was created.", s.removed);
}

void Smtpd(const Snapshot& s, Page& p) {
  const auto& t = s.totals;
  auto active = s.live.find("smtp.session.active");
  p.One("postern_smtpd_sessions_active", "gauge", "SMTP sessions open now in all smtpd processes.",
        active == s.live.end() ? 0 : active->second);
  p.Family("postern_smtpd_sessions_total", "counter", "SMTP sessions smtpd has accepted, by client address family.");
  for (std::string_view f : {"inet4", "inet6", "local"})
    p.Sample("postern_smtpd_sessions_total", {{"family", f}}, Get(t, "smtp.session." + std::string(f)));
  p.One("postern_smtpd_messages_accepted_total", "counter", "Messages smtpd queued (answered 250 after DATA or BDAT).",
        Get(t, "smtp.message"));
  p.One("postern_smtpd_recipients_accepted_total", "counter", "Recipients of the messages smtpd queued.",
        Get(t, "smtp.recipient"));
  p.Family("postern_smtpd_rejects_total", "counter",
           "smtpd's reject: log lines, by SMTP stage, reply code and enhanced status code.");
  for (const auto& [key, n] : t)
    if (auto r = stats::ParseRejectKey(key))
      p.Sample("postern_smtpd_rejects_total", {{"stage", r->stage}, {"code", r->code}, {"status", r->status}}, n);
}

void Deliveries(const Snapshot& s, Page& p) {
  const auto& t = s.totals;
  p.Family("postern_deliveries_total", "counter",
           "Delivery results qmgr received, by transport and status (sent, deferred, bounced).");
  for (const auto& [key, n] : t) {
    auto d = stats::ParseDeliveryKey(key);
    if (!d) continue;
    std::string_view status = d->outcome == "ok" ? "sent" : d->outcome == "tempfail" ? "deferred" : "bounced";
    p.Sample("postern_deliveries_total", {{"transport", d->transport}, {"status", status}}, n);
  }
  p.Family("postern_delivery_delay_seconds", "histogram",
           "Time from a message's arrival to the successful delivery of a recipient (the delay= of status=sent).");
  for (double b : stats::DelayBuckets())
    p.Sample("postern_delivery_delay_seconds_bucket", {{"le", stats::BoundText(b)}}, Get(t, stats::DelayBucketKey(b)));
  uint64_t count = Get(t, stats::kDelayCountKey);
  p.Sample("postern_delivery_delay_seconds_bucket", {{"le", "+Inf"}}, count);
  p.Sample("postern_delivery_delay_seconds_sum", {}, fmt::format("{}", double(Get(t, stats::kDelaySumMsKey)) / 1000));
  p.Sample("postern_delivery_delay_seconds_count", {}, count);
  p.One("postern_delivery_loops_total", "counter", "Deliveries refused because the mail looped back (5.4.6).",
        Get(t, "scheduler.delivery.loop"));
  p.One("postern_envelopes_expired_total", "counter",
        "Recipients returned after maximal_queue_lifetime (or bounce_queue_lifetime).",
        Get(t, "scheduler.envelope.expired"));
  p.One("postern_envelopes_removed_by_admin_total", "counter", "Envelopes removed with postern remove.",
        Get(t, "scheduler.envelope.removed"));
  p.One("postern_bounce_notices_total", "counter", "Delivery status notifications queued by bounce.",
        Get(t, "bounce.message"));
  p.One("postern_bounce_recipients_total", "counter", "Recipients reported in those notifications.",
        Get(t, "bounce.envelope"));
  p.One("postern_smtp_connection_cache_hits_total", "counter",
        "Deliveries of the smtp and lmtp clients that reused a cached connection.",
        Get(t, "mta.connection.cache.hit"));
  p.One("postern_smtp_connection_cache_misses_total", "counter",
        "Deliveries of the smtp and lmtp clients that found no cached connection.",
        Get(t, "mta.connection.cache.miss"));
}

void Master(const Snapshot& s, Page& p) {
  auto up = s.live.find("uptime");
  p.One("postern_master_uptime_seconds", "gauge", "Seconds since master started.",
        up == s.live.end() ? 0 : up->second);
  p.Family("postern_master_processes", "gauge", "Worker processes of each master.cf service, busy or idle.");
  for (const auto& r : s.services)
    for (auto [state, n] : {std::pair<std::string_view, uint64_t>{"busy", r.busy}, {"idle", r.idle}})
      p.Sample("postern_master_processes",
               {{"service", r.service}, {"type", r.type}, {"command", r.command}, {"state", state}}, n);
  p.Family("postern_master_process_limit", "gauge", "The maxproc of each master.cf service (0: no limit).");
  for (const auto& r : s.services)
    p.Sample("postern_master_process_limit", {{"service", r.service}, {"type", r.type}, {"command", r.command}},
             r.limit);
}

}  // namespace

void AddLiveLines(std::string_view text, std::map<std::string, uint64_t>* live) {
  for (const std::string& line : SplitList(text, "\n")) {
    auto eq = line.find('=');
    unsigned long long n = 0;
    if (eq != std::string::npos && ParseUnsigned(std::string_view(line).substr(eq + 1), &n))
      (*live)[line.substr(0, eq)] += n;
  }
}

std::vector<ServiceRow> ParseServices(std::string_view text) {
  std::vector<ServiceRow> out;
  for (const std::string& line : SplitList(text, "\n")) {
    auto f = SplitList(line, "|");
    unsigned long long busy = 0, idle = 0, limit = 0;
    if (f.size() != 6 || !ParseUnsigned(f[3], &busy) || !ParseUnsigned(f[4], &idle) || !ParseUnsigned(f[5], &limit))
      continue;
    out.push_back({f[0], f[1], f[2], busy, idle, limit});
  }
  return out;
}

std::string Render(const Snapshot& s) {
  Page p;
  Queue(s, p);
  Smtpd(s, p);
  Deliveries(s, p);
  Master(s, p);
  return p.Take();
}

}  // namespace postern::metrics
