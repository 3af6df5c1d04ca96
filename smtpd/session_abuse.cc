// smtpd/session_abuse.cc — a session's side of the abuse controls (abuse.h):
// anvil's connection count and rates with Postfix's replies and warnings, the
// greeting delay on the session's own timer (no thread, no process: a delayed
// session is a timer and a read on the loop), and early talkers.
#include <fmt/format.h>

#include "postern/log/limited.h"
#include "postern/log/log.h"
#include "postern/smtp/reply.h"
#include "postern/stats/cache_keys.h"
#include "postern/stats/recorder.h"
#include "smtpd/session.h"

namespace postern::smtpd {

namespace {

// A failed dumb: request, named at most once a minute per process; the
// client then gets the usual delay (lookup) or is not remembered (store).
void CacheFailed(const std::string& why) {
  static log::LimitedWarning w(std::chrono::minutes(1));
  w.Warn("smtpd_greet_delay: policy cache: {}", why);
}

// The early-talker record of addr: "5" refused, "2" waited; nullopt: none or
// the cache could not answer. Answers once, at once (LMDB) or later (Redis).
void LookupDumb(cache::Cache* c, const std::string& addr, std::function<void(std::optional<std::string>)> cb) {
  if (!c) return cb(std::nullopt);
  c->Get(cache::DumbKey(addr), [cb = std::move(cb)](Result<std::optional<cache::Record>> r) {
    if (!r) CacheFailed(r.error());
    cb(r && *r ? std::optional<std::string>((*r)->value) : std::nullopt);
  });
}

void RememberDumb(cache::Cache* c, const std::string& addr, std::string_view value, uint64_t ttl) {
  if (!c) return;
  c->Put(cache::DumbKey(addr), std::string(value), ttl, [](Result<bool> r) {
    if (!r) CacheFailed(r.error());
  });
}

}  // namespace

bool Session::LimitExempt() const {
  if (local_addr_.empty()) return true;  // local submission
  return svc_->settings().event_limit_exceptions.Contains(client_addr_) == std::optional<bool>(true);
}

// A shared (Redis) rate that answered while the session held still.
bool Session::RateCount(std::string_view kind, std::function<void()> again, std::optional<uint64_t>* count) {
  if (rate_answer_ && rate_answer_->first == kind) {
    *count = rate_answer_->second;
    rate_answer_.reset();
    return true;
  }
  std::weak_ptr<Session> weak = weak_from_this();
  auto later = [weak, kind = std::string(kind), again = std::move(again)](std::optional<uint64_t> n) {
    auto s = weak.lock();
    if (!s || s->finished_ || s->closing_) return;
    s->rate_answer_.emplace(kind, n);
    again();
  };
  if (svc_->guard().Rate(kind, client_addr_, svc_->settings().abuse.rate_unit, count, std::move(later))) return true;
  paused_ = true;
  return false;
}

// Postfix's smtpd at connect: the concurrency (this host's) and the
// connection rate (shared with Redis) per client address. False: refused with
// 421 and closing, or waiting for the shared rate (then MilterConnect follows).
bool Session::AdmitConnection() {
  const Settings& st = svc_->settings();
  if ((st.connection_count_limit <= 0 && st.abuse.conn_rate <= 0) || LimitExempt()) return true;
  std::string refusal = st.myhostname + " Error: too many connections from " + client_addr_;
  if (st.connection_count_limit > 0 && !std::exchange(count_checked_, true)) {
    auto n = svc_->guard().Connect(client_addr_);
    anvil_counted_ = n.has_value();
    if (n && *n > uint64_t(st.connection_count_limit)) {
      log::Warning("Connection concurrency limit exceeded: {} from {} for service {}", *n, Who(),
                   svc_->service_name());
      return RefuseConnection(refusal, "limit");
    }
  }
  if (st.abuse.conn_rate > 0) {
    std::optional<uint64_t> n;
    auto again = [this] {
      paused_ = false;
      if (AdmitConnection()) MilterConnect();
    };
    if (!RateCount("conn", again, &n)) return false;
    if (n && *n > uint64_t(st.abuse.conn_rate)) {
      log::Warning("Connection rate limit exceeded: {} from {} for service {}", *n, Who(), svc_->service_name());
      return RefuseConnection(refusal, "limit");
    }
  }
  return true;
}

bool Session::RefuseConnection(const std::string& text, std::string_view check) {
  stats::Count(fmt::format("smtp.check.{}.reject", check));
  entry_.Reply(421, "4.7.0", text);
  smtp::AppendReply(&out_, 421, "4.7.0", text);
  CloseAfterFlush();
  return false;
}

// An anvil rate of MAIL, RCPT or AUTH over its limit: replies (450 4.7.1, as
// Postfix) and returns true.
bool Session::RateLimited(std::string_view kind, std::function<void()> again) {
  const AbuseSettings& a = svc_->settings().abuse;
  struct Rule {
    std::string_view kind;
    long long limit;
    const char* warning;
    const char* reply;
  };
  const Rule rules[] = {
      {"mail", a.mail_rate, "Message delivery request rate limit exceeded", "Error: too much mail from "},
      {"rcpt", a.rcpt_rate, "Recipient address rate limit exceeded", "Error: too many recipients from "},
      {"auth", a.auth_rate, "AUTH command rate limit exceeded", "Error: too many AUTH commands from "}};
  for (const Rule& r : rules) {
    if (r.kind != kind || r.limit <= 0 || LimitExempt()) continue;
    std::optional<uint64_t> n;
    if (!RateCount(kind, [this, again = std::move(again)] {
          paused_ = false;
          again();
          AfterWait();
        }, &n))
      return true;
    if (!n || *n <= uint64_t(r.limit)) return false;
    log::Warning("{}: {} from {} for service {}", r.warning, *n, Who(), svc_->service_name());
    stats::Count("smtp.check.limit.reject");
    ReplyAs(notify::kClassPolicy, 450, "4.7.1", r.reply + client_addr_);
    return true;
  }
  return false;
}

// After a full (not resumed) TLS handshake; true: over the limit, closing.
bool Session::NewTlsLimited(std::function<void()> again) {
  const Settings& st = svc_->settings();
  if (st.abuse.newtls_rate <= 0 || LimitExempt()) return false;
  std::optional<uint64_t> n;
  if (!RateCount("newtls", [this, again = std::move(again)] {
        paused_ = false;
        again();
        AfterWait();  // an EHLO that came meanwhile waits in the reader
      }, &n))
    return true;
  if (!n || *n <= uint64_t(st.abuse.newtls_rate)) return false;
  log::Warning("New TLS session rate limit exceeded: {} from {} for service {}", *n, Who(), svc_->service_name());
  RefuseConnection(st.myhostname + " Error: too many new TLS sessions from " + client_addr_, "limit");
  return true;
}

// Plan 9's -D: the banner waits smtpd_greet_delay (longer for the networks
// of smtpd_greet_delay_maps) unless the client is trusted or waited before.
// True: the banner is not sent now (it waits for the cache's dumb: record
// and the delay, or the client was refused); the client speaks too early from
// here on.
bool Session::DelayGreeting() {
  const AbuseSettings& a = svc_->settings().abuse;
  if (!a.GreetDelayed() || local_addr_.empty()) return false;
  if (svc_->policy().InMynetworks(client_addr_) == std::optional<bool>(true)) return false;
  greeting_pending_ = true;
  greet_start_ms_ = uv_now(svc_->loop());
  ResumeReading();  // whatever comes now is early talk
  std::weak_ptr<Session> weak = weak_from_this();
  LookupDumb(svc_->cache(), client_addr_, [weak](std::optional<std::string> known) {
    auto s = weak.lock();
    if (s && !s->finished_ && !s->closing_ && s->greeting_pending_) s->OnDumbRecord(known);
  });
  return true;
}

void Session::OnDumbRecord(const std::optional<std::string>& known) {
  if (known == "5") {
    greeting_pending_ = false;
    log::Info("NOQUEUE: reject: CONNECT from {}: 554 5.5.1 Error: too early; proto=SMTP", Who());
    return RefuseEarlyTalker();
  }
  auto ms = known == "2" ? std::optional<uint64_t>(0) : GreetDelayMs(svc_->settings().abuse, client_addr_);
  if (!ms || *ms == 0) {
    greeting_pending_ = false;
    return SendGreeting();
  }
  timer_.Start(*ms, 0, [this] {
    auto self = shared_from_this();
    greeting_pending_ = false;
    RememberDumb(svc_->cache(), client_addr_, "2", svc_->settings().abuse.greet_ttl);
    stats::Count("smtp.check.pregreet.accept");
    SendGreeting();
  });
}

void Session::SendGreeting() {
  const Settings& st = svc_->settings();
  entry_.Reply(220, "", st.banner);
  smtp::AppendReply(&out_, 220, "", st.banner);
  ResumeReading();
  ArmTimeout();
  Flush();
}

// postscreen's PREGREET line; the client is remembered as dumb: for greet_ttl.
void Session::EarlyTalker(std::string_view data) {
  greeting_pending_ = false;
  double after = double(uv_now(svc_->loop()) - greet_start_ms_) / 1000;
  log::Info("PREGREET {} after {:.2f} from [{}]:{}: {}", data.size(), after, client_addr_, client_port_,
            EscapedInput(data));
  RememberDumb(svc_->cache(), client_addr_, "5", svc_->settings().abuse.greet_ttl);
  RefuseEarlyTalker();
}

void Session::RefuseEarlyTalker() {
  stats::Count("smtp.check.pregreet.reject");
  reason_ = "early talker";
  if (!svc_->settings().abuse.greet_drop) {
    entry_.Reply(554, "5.5.1", "Error: too early");
    smtp::AppendReply(&out_, 554, "5.5.1", "Error: too early");
  }
  CloseAfterFlush();
}

}  // namespace postern::smtpd
