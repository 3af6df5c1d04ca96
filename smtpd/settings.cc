// smtpd/settings.cc — reads and checks smtpd's parameters; see settings.h.
#include "smtpd/settings.h"

#include "postern/notify/notify.h"
#include "postern/table/cidr.h"
#include "postern/util/strings.h"

namespace postern::smtpd {

namespace {

template <class T>
Result<void> Take(Result<T> r, T* out) {
  if (!r) return Err(r.error());
  *out = std::move(*r);
  return {};
}

Result<NetworkList> Networks(const config::Config& cfg, std::string_view param) {
  auto v = cfg.GetList(param);
  if (!v) return Err(v.error());
  auto l = NetworkList::Parse(*v);
  if (!l) return Err(std::string(param) + ": " + l.error());
  return l;
}

// A bare local part gets @$myorigin, as Postfix's cleanup appends it.
std::string Qualified(const std::string& addr, const std::string& origin) {
  if (addr.empty() || addr.find('@') != std::string::npos || origin.empty()) return addr;
  return addr + "@" + origin;
}

Result<void> LoadNotify(const config::Config& cfg, Settings* s) {
  auto classes = cfg.GetList("notify_classes");
  if (!classes) return Err(classes.error());
  auto mask = notify::ParseNotifyClasses(*classes);
  if (!mask) return Err(mask.error());
  s->notify_classes = *mask;
  auto rcpt = cfg.Get("error_notice_recipient");
  auto sender = cfg.Get("double_bounce_sender");
  auto threshold = cfg.GetInt("smtpd_history_flush_threshold");
  if (!rcpt) return Err(rcpt.error());
  if (!sender) return Err(sender.error());
  if (!threshold) return Err(threshold.error());
  if (*threshold < 0) return Err("smtpd_history_flush_threshold: must be at least 0");
  s->error_rcpt = Qualified(*rcpt, s->myorigin);
  s->double_bounce = Qualified(*sender, s->myorigin);
  s->history_flush_threshold = size_t(*threshold);
  return {};
}

}  // namespace

Result<Settings> Settings::Load(const config::Config& cfg, ServerKeys* keys) {
  Settings s;
  for (auto [name, out] : {std::pair{"myhostname", &s.myhostname}, std::pair{"smtpd_banner", &s.banner},
                           std::pair{"mail_name", &s.mail_name}, std::pair{"myorigin", &s.myorigin},
                           std::pair{"queue_directory", &s.queue_directory}}) {
    if (auto r = Take(cfg.Get(name), out); !r) return Err(r.error());
  }
  if (auto r = Take(cfg.GetSize("message_size_limit"), &s.message_size_limit); !r) return Err(r.error());
  if (auto r = Take(cfg.GetSize("queue_minfree"), &s.queue_minfree); !r) return Err(r.error());
  auto get_int = [&](std::string_view name, long long min) -> Result<long long> {
    auto v = cfg.GetInt(name);
    if (!v) return Err(v.error());
    if (*v < min) return Err(std::string(name) + ": must be at least " + std::to_string(min));
    return *v;
  };
  if (auto r = LoadNotify(cfg, &s); !r) return Err(r.error());
  if (auto r = Take(table::DebugPeers::FromConfig(cfg), &s.debug_peers); !r) return Err(r.error());
  if (auto r = Take(cfg.Get("smtpd_foreign_sender_header"), &s.foreign_sender_header); !r) return Err(r.error());
  auto save = cfg.GetBool("smtpd_save_rejected");
  if (!save) return Err(save.error());
  if (*save) {
    auto limits = queue::QuarantineLimits::FromConfig(cfg);
    if (!limits) return Err(limits.error());
    s.save_rejected = *limits;
  }
  if (!s.foreign_sender_header.empty() && s.foreign_sender_header.find_first_of(": \t") != std::string::npos)
    return Err("smtpd_foreign_sender_header: \"" + s.foreign_sender_header + "\" is not a header name");
  auto rl = get_int("smtpd_recipient_limit", 0);
  auto ol = get_int("smtpd_recipient_overshoot_limit", 0);
  auto ll = get_int("line_length_limit", 80);
  auto soft = get_int("smtpd_soft_error_limit", 0);
  auto hard = get_int("smtpd_hard_error_limit", 1);
  auto ccl = get_int("smtpd_client_connection_count_limit", 0);
  for (auto* r : {&rl, &ol, &ll, &soft, &hard, &ccl})
    if (!*r) return Err(r->error());
  s.recipient_limit = uint64_t(*rl);
  s.recipient_overshoot_limit = *ol;
  s.line_length_limit = size_t(*ll);
  s.soft_error_limit = *soft;
  s.hard_error_limit = *hard;
  s.connection_count_limit = *ccl;

  auto to = cfg.GetTime("smtpd_timeout");
  auto sleep = cfg.GetTime("smtpd_error_sleep_time");
  if (!to) return Err(to.error());
  if (!sleep) return Err(sleep.error());
  s.timeout_ms = uint64_t(to->count()) * 1000;
  if (s.timeout_ms == 0) return Err("smtpd_timeout: must be more than 0");
  s.error_sleep_ms = uint64_t(sleep->count()) * 1000;

  for (auto [name, out] : {std::pair{"smtpd_helo_required", &s.helo_required},
                           std::pair{"disable_vrfy_command", &s.disable_vrfy},
                           std::pair{"smtpd_peername_lookup", &s.peername_lookup},
                           std::pair{"strict_rfc821_envelopes", &s.strict_rfc821}}) {
    if (auto r = Take(cfg.GetBool(name), out); !r) return Err(r.error());
  }

  auto bare = cfg.Get("smtpd_forbid_bare_newline");
  if (!bare) return Err(bare.error());
  if (*bare == "normalize") s.bare_lf = smtp::BareLf::kNormalize;
  else if (*bare == "yes") s.bare_lf = smtp::BareLf::kReject;
  else if (*bare == "no") s.bare_lf = smtp::BareLf::kNo;
  else return Err("smtpd_forbid_bare_newline: \"" + *bare + "\" is not normalize, yes or no");

  auto ex = Networks(cfg, "smtpd_forbid_bare_newline_exclusions");
  if (!ex) return Err(ex.error());
  s.bare_lf_exclusions = std::move(*ex);
  auto ev = Networks(cfg, "smtpd_client_event_limit_exceptions");
  if (!ev) return Err(ev.error());
  s.event_limit_exceptions = std::move(*ev);
  if (auto r = Take(AbuseSettings::Load(cfg), &s.abuse); !r) return Err(r.error());
  if (auto r = Take(InboundRoutes::Load(cfg), &s.inbound); !r) return Err(r.error());
  auto cl = cleanup::Options::FromConfig(cfg, true);
  if (!cl) return Err(cl.error());
  s.cleanup = std::move(*cl);
  s.cleanup.drop_headers = {"Return-Path"};  // Postfix's cleanup removes it from everything smtpd receives
  auto hr = HeaderRewriteClients::FromConfig(cfg);
  if (!hr) return Err(hr.error());
  s.header_rewrite = std::move(*hr);
  auto tls = TlsSettings::Load(cfg, s.queue_directory, keys);
  if (!tls) return Err(tls.error());
  s.tls = std::move(*tls);
  auto milters = milter::Settings::Load(cfg);
  if (!milters) return Err(milters.error());
  s.milters = std::make_shared<const milter::Settings>(std::move(*milters));
  return s;
}

Result<HeaderRewriteClients> HeaderRewriteClients::FromConfig(const config::Config& cfg) {
  HeaderRewriteClients h;
  auto list = cfg.GetList("local_header_rewrite_clients");
  if (!list) return Err("local_header_rewrite_clients: " + list.error());
  for (const std::string& e : *list) {
    if (e == "permit_inet_interfaces") h.inet_interfaces = true;
    else if (e == "permit_mynetworks") h.mynetworks = true;
    else if (e == "permit_sasl_authenticated") h.sasl = true;
    else if (e == "static:all") h.all = true;
    else
      return Err("local_header_rewrite_clients: \"" + e +
                 "\" is not permit_inet_interfaces, permit_mynetworks, permit_sasl_authenticated or static:all");
  }
  if (h.inet_interfaces) {
    auto own = route::OwnAddresses::FromConfig(cfg, true);
    if (!own) return Err(own.error());
    h.own = std::move(*own);
  }
  return h;
}

}  // namespace postern::smtpd
