// smtp/delivery.cc — one delivery request: routing, session setup and the
// result frames. The mail transaction itself is in transaction.cc.
#include "smtp/delivery.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>

#include "postern/log/log.h"
#include "postern/queue/ids.h"
#include "postern/stats/recorder.h"
#include "postern/util/strings.h"
#include "smtp/native_lookup.h"

namespace postern::smtp_client {

Delivery::Delivery(Worker& w, std::shared_ptr<server::DeliveryConn> qmgr, ipc::DeliveryRequest req)
    : w_(w),
      s_(w.settings),
      qmgr_(std::move(qmgr)),
      req_(std::move(req)),
      connector_(w.ctx->loop),
      xfer_timer_(w.ctx->loop),
      pix_timer_(w.ctx->loop) {}

Delivery::Delivery(Worker& w, ipc::DeliveryRequest req, ResultsFn done)
    : w_(w),
      s_(w.settings),
      req_(std::move(req)),
      done_(std::move(done)),
      connector_(w.ctx->loop),
      xfer_timer_(w.ctx->loop),
      pix_timer_(w.ctx->loop) {}

void Delivery::Start() { OnRequest(); }

queue::Outcome<queue::BodyReader> Delivery::OpenBody() const {
  if (w_.message) return queue::BodyReader::FromMemory(*w_.message);
  return w_.queue->OpenBody(req_.message_id);
}

void Delivery::OnRequest() {
  msgid_ = w_.message ? "NOQUEUE" : queue::FormatMsgId(req_.message_id);
  results_.resize(req_.recipients.size());
  t_start_ = Clock::now();
  queued_seconds_ = std::max<double>(0, double(std::time(nullptr) - req_.arrival));
  const std::string& first = req_.recipients.front().address;
  size_t at = first.rfind('@');
  std::string domain = at == std::string::npos ? "" : first.substr(at + 1);
  auto hop = ParseNexthop(req_.nexthop, domain, s_.lmtp, s_.tcp_port);
  if (!hop) {
    SetAllOpen(ipc::DeliveryStatus::kDeferred, "4.3.5", "mail transport unavailable: " + hop.error(), "none");
    return Finish(false);
  }
  hop_ = std::move(*hop);
  hop_text_ = req_.nexthop;
  if (!probe()) {  // a probe has no message in the queue
    auto body = OpenBody();
    if (!body.ok()) {
      SetAllOpen(ipc::DeliveryStatus::kDeferred, "4.3.0", "cannot read message: " + body.status().message, "none");
      return Finish(false);
    }
    body_.emplace(std::move(*body));
    body_size_ = body_->size();
  }
  ResolveTlsPolicy();
}

void Delivery::PolicyReady(const std::optional<TlsPolicy>& sts) {
  if (auto t = LoadTlsPolicy(sts); !t) {
    log::Warning("{}", t.error());
    SetAllOpen(ipc::DeliveryStatus::kDeferred, "4.7.5", t.error(), "none");
    return Finish(false);
  }
  // A connection is reused only under the TLS policy it was set up with.
  cache_key_ = req_.transport + "|" + hop_.host + "|" + std::to_string(hop_.port) +
               (hop_.mx_lookup ? "|mx" : "") + "|tls=" + tls_policy_.Key();
  if (s_.cache_on_demand) {
    auto c = w_.cache->Take(cache_key_);
    stats::Count(c ? "mta.connection.cache.hit" : "mta.connection.cache.miss");
    if (c) {
      conn_ = std::move(c);
      Report(ipc::ConnectionFact::Kind::kReused, conn_->host(), conn_->addr());
      reused_ = ready_ = true;
      t_ready_ = Clock::now();
      return Transaction();
    }
  }
  Resolve();
}

void Delivery::Resolve() {
  auto self = shared_from_this();
  if (hop_.kind == Nexthop::Kind::kUnix) {
    targets_.push_back(Target{s_.myhostname, {}, 0, hop_.host});
    return TryNext();
  }
  mx_native_done_ = false;
  if (hop_.mx_lookup && s_.mx_lookups) {
    ticket_ = w_.resolver->LookupMx(hop_.host, [self](dns::MxResult r) { self->OnMx(std::move(r)); });
  } else {
    LookupHost(hop_.host, [self](dns::AddressResult r) { self->OnAddresses(std::move(r)); });
  }
}

void Delivery::LookupHost(const std::string& host, std::function<void(dns::AddressResult)> fn) {
  auto self = shared_from_this();
  auto native = [self, host, fn] {
    NativeLookup(self->w_.ctx->loop, host, self->s_.ipv4, self->s_.ipv6, [self, fn](dns::AddressResult r) {
      if (!self->finished_) fn(std::move(r));
    });
  };
  if (!s_.lookup_dns) return native();
  ticket_ = w_.resolver->LookupAddresses(host, [self, fn, native](dns::AddressResult r) {
    if (!r.outcome.ok() && self->s_.lookup_native) return native();
    fn(std::move(r));
  });
}

void Delivery::NativeMxHosts(std::shared_ptr<dns::MxResult> r, size_t i) {
  while (i < r->hosts.size() && s_.lookup_dns && !r->hosts[i].addresses.empty()) ++i;
  if (i < r->hosts.size()) {
    auto self = shared_from_this();
    return NativeLookup(w_.ctx->loop, r->hosts[i].name, s_.ipv4, s_.ipv6, [self, r, i](dns::AddressResult a) {
      if (self->finished_) return;
      r->hosts[i].addresses = std::move(a.addresses);
      r->hosts[i].outcome = std::move(a.outcome);
      self->NativeMxHosts(r, i + 1);
    });
  }
  mx_native_done_ = true;
  for (const auto& h : r->hosts)
    if (!h.addresses.empty()) r->outcome = dns::Outcome{};
  OnMx(std::move(*r));
}

void Delivery::OnMx(dns::MxResult r) {
  if (s_.lookup_native && !mx_native_done_ && !r.null_mx) {
    // smtp_host_lookup with native: a name DNS does not know at all is a host to look up natively.
    if (r.hosts.empty() && r.outcome.permanent()) {
      auto self = shared_from_this();
      return LookupHost(hop_.host, [self](dns::AddressResult a) { self->OnAddresses(std::move(a)); });
    }
    if (!r.hosts.empty()) return NativeMxHosts(std::make_shared<dns::MxResult>(std::move(r)), 0);
  }
  if (!r.outcome.ok() || r.null_mx) {
    if (s_.ignore_mx_lookup_error && MxQueryFailed(r)) {
      // Postfix's ignore_mx_lookup_error: a broken MX answer is not a reason to wait.
      log::Info("{}: MX lookup for {} failed ({}); trying its address records", msgid_, hop_.host, r.outcome.reason);
      auto self = shared_from_this();
      return LookupHost(hop_.host, [self](dns::AddressResult a) { self->OnAddresses(std::move(a)); });
    }
    LookupFailure f = MxLookupFailure(r, s_.defer_if_no_mx_address);
    if (f.no_mx_address) log::Warning("no MX host for {} has a valid address record", hop_.host);
    return NoServerFound(std::move(f), r.null_mx);
  }
  if (CheckSelfMx(&r)) return;
  size_t ignored = 0, first = targets_.size();
  for (const auto& h : r.hosts) {
    if (Ignored(h.name)) {
      ++ignored;
      continue;
    }
    AddTargets(h.name, h.addresses, h.preference, h.authentic, r.authentic);
  }
  OrderTargets(first);
  if (ignored && ignored == r.hosts.size()) {
    LookupFailure f;
    f.reason = "all MX hosts for " + hop_.host + " are in smtp_mx_ignore";
    f.dsn = "4.4.4";
    return NoServerFound(std::move(f), false);
  }
  TryNext();
}

void Delivery::OnAddresses(dns::AddressResult r) {
  if (!r.outcome.ok()) return NoServerFound(AddressLookupFailure(r), false);
  if (CheckSelfHost(r)) return;
  size_t first = targets_.size();
  AddTargets(hop_.host, r.addresses, 0, r.authentic);
  OrderTargets(first);
  if (targets_.size() == first) {
    // An address literal of a protocol that inet_protocols turns off.
    last_reason_ = "unable to look up host " + hop_.host + ": no address of a protocol enabled by inet_protocols";
    last_dsn_ = "4.4.4";
  }
  TryNext();
}

// smtp(8): a destination that cannot be found (NXDOMAIN, no address,
// SERVFAIL) goes to the fallback relays like one that is unreachable; a null
// MX is the domain's own answer and final. A fallback relay that cannot be
// found is a configuration problem: 4.3.5, never a bounce.
void Delivery::NoServerFound(LookupFailure f, bool final) {
  if (in_fallback_) {
    log::Info("fallback relay {}: {}", hop_.host, f.reason);
    if (f.permanent) {
      log::Warning("smtp_fallback_relay configuration problem");
      f.dsn = "4.3.5";
      f.permanent = false;
    }
  }
  last_reason_ = std::move(f.reason);
  last_dsn_ = std::move(f.dsn);
  last_permanent_ = f.permanent;
  last_relay_ = "none";
  // postern send -g: a destination that cannot be found goes to the gateway.
  if (!final && !in_gateway_ && !in_fallback_ && !s_.gateway.empty()) {
    in_gateway_ = true;
    return TryRelay(s_.gateway);
  }
  if (!final && !final_nexthop_ && next_fallback_ < s_.fallback_relay.size()) return TryFallback();
  SetAllOpen(last_permanent_ ? ipc::DeliveryStatus::kBounced : ipc::DeliveryStatus::kDeferred, last_dsn_,
             last_reason_, last_relay_);
  Finish(false);
}

bool Delivery::Ignored(const std::string& mx_host) {
  std::string name = ToLower(mx_host);
  if (name.ends_with('.')) name.pop_back();
  for (const std::string& h : s_.mx_ignore_hosts)
    if (EqualsIgnoreCase(h, name)) return true;
  if (!s_.mx_ignore) return false;
  auto r = s_.mx_ignore->Lookup(name);
  if (!r) {
    log::Warning("smtp_mx_ignore lookup of {}: {}", name, r.error());
    return false;
  }
  if (r->has_value()) log::Info("{}: MX host {} for {} is in smtp_mx_ignore: not tried", msgid_, name, hop_.host);
  return r->has_value();
}

void Delivery::AddTargets(const std::string& host, const std::vector<dns::IpAddress>& addrs,
                          uint16_t preference, bool dnssec, bool mx_secure) {
  for (const auto& a : addrs) {
    if ((a.is_v4() && !s_.ipv4) || (a.is_v6() && !s_.ipv6)) continue;
    targets_.push_back(Target{host, a, hop_.port, "", preference, dnssec, mx_secure});
  }
}

void Delivery::OrderTargets(size_t from) {
  if (s_.address_preference == "any") return;
  bool v6_first = s_.address_preference == "ipv6";
  auto begin = targets_.begin() + long(from);
  while (begin != targets_.end()) {
    auto end = std::find_if(begin, targets_.end(),
                            [&](const Target& t) { return t.preference != begin->preference; });
    std::stable_partition(begin, end, [&](const Target& t) { return t.addr.is_v6() == v6_first; });
    begin = end;
  }
}

void Delivery::TryNext() {
  bool out_of_addresses =
      next_target_ >= targets_.size() ||
      (s_.mx_address_limit && next_target_ - dest_first_target_ >= size_t(s_.mx_address_limit));
  bool out_of_sessions = s_.mx_session_limit && sessions_ - dest_sessions_base_ >= s_.mx_session_limit;
  if (out_of_addresses || out_of_sessions) {
    if (!last_permanent_ && !final_nexthop_ && next_fallback_ < s_.fallback_relay.size()) return TryFallback();
    SetAllOpen(last_permanent_ ? ipc::DeliveryStatus::kBounced : ipc::DeliveryStatus::kDeferred,
               last_dsn_, last_reason_, last_relay_);
    return Finish(false);
  }
  plaintext_retry_ = false;
  if (StsRefuses(targets_[next_target_])) {
    ++next_target_;
    return TryNext();
  }
  Connect(targets_[next_target_++]);
}

void Delivery::Connect(const Target& t) {
  current_ = t;
  auto self = shared_from_this();
  auto done = [self, t](Result<std::unique_ptr<event::Stream>> s) { self->OnConnected(t, std::move(s)); };
  if (!t.path.empty()) {
    connector_.Unix(t.path, s_.connect_ms, done);
  } else {
    connector_.Tcp(t.addr, t.port, w_.bind ? &*w_.bind : nullptr, s_.connect_ms, done);
  }
}

// Postfix's smtp_fallback_relay: when the destination's own servers all
// failed temporarily, or it could not be found, the next relay in the list
// gets the mail.
void Delivery::TryFallback() {
  in_fallback_ = true;
  TryRelay(s_.fallback_relay[next_fallback_++]);
}

void Delivery::TryRelay(const std::string& text) {
  auto hop = ParseNexthop(text, "", false, s_.tcp_port);
  if (!hop) {
    log::Warning("smtp_fallback_relay configuration problem: {}: {}", text, hop.error());
    last_reason_ = "smtp_fallback_relay " + text + ": " + hop.error();
    last_dsn_ = "4.3.5";
    last_permanent_ = false;
    last_relay_ = "none";
    return TryNext();
  }
  hop_ = std::move(*hop);
  hop_text_ = text;
  next_target_ = dest_first_target_ = targets_.size();
  dest_sessions_base_ = sessions_;
  Resolve();
}

void Delivery::OnConnected(const Target& t, Result<std::unique_ptr<event::Stream>> s) {
  std::string addr = t.path.empty() ? t.addr.ToString() : t.path;
  if (!s) {
    std::string where = t.host + "[" + addr + "]" + (t.port ? ":" + std::to_string(t.port) : "");
    last_reason_ = "connect to " + where + ": " + s.error();
    last_dsn_ = "4.4.1";
    last_relay_ = "none";
    last_permanent_ = false;
    log::Info("{}", last_reason_);
    Report(ipc::ConnectionFact::Kind::kFailed, t.host, addr, s.error());
    return TryNext();
  }
  Report(ipc::ConnectionFact::Kind::kNew, t.host, addr);
  conn_ = std::make_unique<Conn>(w_.ctx->loop, std::move(*s), t.host, addr, t.port, s_.line_length_limit);
  conn_->set_per_record_deadline(s_.per_record_deadline);
  if (s_.debug_peers) conn_->SetDebug(s_.debug_peers->LevelFor(t.host, addr) >= 1);
  ++sessions_;
  Greeting();
}

// A server that cannot take the mail now: the next one may (Postfix's site failure).
void Delivery::SiteFailed(std::string reason, std::string dsn, bool permanent) {
  log::Info("{}", reason);
  last_relay_ = conn_ ? conn_->relay() : "none";
  if (conn_ && !conn_->broken()) w_.cache->Quit(std::move(conn_));
  conn_.reset();
  last_reason_ = std::move(reason);
  last_dsn_ = std::move(dsn);
  last_permanent_ = permanent;
  if (permanent) {
    SetAllOpen(ipc::DeliveryStatus::kBounced, last_dsn_, last_reason_, last_relay_);
    return Finish(false);
  }
  TryNext();
}

void Delivery::Greeting() {
  // smtp_tls_wrappermode: TLS from the first byte, the greeting comes inside it.
  if (tls_cfg_ && w_.tls->wrappermode() && !conn_->tls()) return Handshake();
  auto self = shared_from_this();
  // postern send -A: EHLO at once, for a server that waits for the client to speak.
  if (s_.ehlo_first) Helo(false);
  conn_->Expect("receiving the initial server greeting", s_.helo_ms, [self](Result<smtp::Reply> r) {
    if (!r) return self->SiteFailed(r.error(), "4.4.2", false);
    if (r->code / 100 == 2) {
      self->PixCheck(*r);
      // A server that waited for us may answer EHLO without a greeting.
      if (self->s_.ehlo_first && r->code == 250) return self->OnHeloReply(false, std::move(r));
      if (self->s_.ehlo_first) return self->AwaitHelo(false);
      return self->Helo(self->HeloFirst(*r));
    }
    std::string dsn = ReplyDsn(*r);
    bool perm = r->code / 100 == 5 && !self->s_.skip_5xx_greeting;
    if (!perm) dsn[0] = '4';
    self->SiteFailed("host " + self->conn_->peer() + " refused to talk to me: " + ReplyText(*r), dsn, perm);
  });
}

bool Delivery::HeloFirst(const smtp::Reply& greeting) {
  if (s_.lmtp) return false;
  if (s_.never_send_ehlo || pix_esmtp_off_) return true;
  if (s_.always_send_ehlo) return false;
  for (const std::string& line : greeting.lines)
    if (line.find("ESMTP") != std::string::npos) return false;
  return true;
}

void Delivery::PixCheck(const smtp::Reply& greeting) {
  pix_esmtp_off_ = pix_delay_dot_ = false;
  if (s_.lmtp) return;
  bool mangled = !greeting.lines.empty();
  for (const std::string& l : greeting.lines)
    mangled = mangled && l.find_first_not_of("20 *\t") == std::string::npos;
  if (mangled) {
    pix_esmtp_off_ = s_.pix_disable_esmtp;
    pix_delay_dot_ = s_.pix_delay_dotcrlf;
  } else if (s_.pix_maps && conn_) {
    auto r = s_.pix_maps->Lookup(conn_->addr());
    if (!r) return log::Warning("smtp_pix_workaround_maps lookup of {}: {}", conn_->addr(), r.error());
    if (!r->has_value()) return;
    if (auto p = ParsePixWorkarounds(**r, &pix_esmtp_off_, &pix_delay_dot_); !p)
      return log::Warning("smtp_pix_workaround_maps: {}: {}", conn_->addr(), p.error());
  } else {
    return;
  }
  if (pix_esmtp_off_ || pix_delay_dot_)
    log::Info("{}: enabling PIX workarounds:{}{} for {}", msgid_, pix_esmtp_off_ ? " disable_esmtp" : "",
              pix_delay_dot_ ? " delay_dotcrlf" : "", conn_->relay());
}

void Delivery::Helo(bool helo_fallback) {
  const char* verb = s_.lmtp ? "LHLO" : helo_fallback ? "HELO" : "EHLO";
  conn_->Write(std::string(verb) + " " + s_.helo_name + "\r\n");
  if (!s_.ehlo_first || helo_fallback || conn_->tls()) AwaitHelo(helo_fallback);
}

void Delivery::AwaitHelo(bool helo_fallback) {
  auto self = shared_from_this();
  const char* verb = s_.lmtp ? "LHLO" : helo_fallback ? "HELO" : "EHLO";
  std::string phase = std::string("performing the ") + verb + " handshake";
  conn_->Expect(phase, s_.helo_ms,
                [self, helo_fallback](Result<smtp::Reply> r) { self->OnHeloReply(helo_fallback, std::move(r)); });
}

void Delivery::OnHeloReply(bool helo_fallback, Result<smtp::Reply> r) {
  if (!r) return SiteFailed(r.error(), "4.4.2", false);
  const char* verb = s_.lmtp ? "LHLO" : helo_fallback ? "HELO" : "EHLO";
  if (r->code / 100 == 2) {
    conn_->esmtp = !helo_fallback;
    conn_->xforward.clear();
    if (!helo_fallback) {
      conn_->ehlo = smtp::ParseEhlo(*r);
      for (const std::string& line : r->lines) {
        auto words = SplitList(line, " ");
        if (words.empty() || !EqualsIgnoreCase(words[0], "XFORWARD")) continue;
        for (size_t k = 1; k < words.size(); ++k) {
          std::string attr = words[k];
          for (char& c : attr) c = char(std::toupper(static_cast<unsigned char>(c)));
          conn_->xforward.push_back(std::move(attr));
        }
      }
    }
    t_ready_ = Clock::now();
    ready_ = true;
    return AfterHelo();
  }
  // RFC 5321 §3.2: a server that does not know EHLO may still take HELO.
  if (r->code / 100 == 5 && !s_.lmtp && !helo_fallback) return Helo(true);
  std::string why = "host " + conn_->peer() + " refused to talk to me: " + ReplyText(*r) + " (in reply to " +
                    verb + " command)";
  SiteFailed(why, ReplyDsn(*r), r->code / 100 == 5);
}

void Delivery::Set(size_t i, ipc::DeliveryStatus st, std::string dsn, std::string reason,
                   std::string relay) {
  if (results_[i]) return;
  FilterStatus(&st, &dsn, &reason);
  ipc::DeliveryResult r;
  r.envelope_id = req_.recipients[i].envelope_id;
  r.status = st;
  r.dsn = std::move(dsn);
  r.reason = std::move(reason);
  r.relay = std::move(relay);
  // RFC 3461 "relayed": the next SMTP hop cannot carry the DSN request on.
  r.relayed_without_dsn = st == ipc::DeliveryStatus::kSent && !s_.lmtp && conn_ && !conn_->ehlo.dsn;
  results_[i] = std::move(r);
}

// Postfix's default_delivery_status_filter rules: the key is "X.Y.Z text",
// the result "X.Y.Z text"; success stays success and failure failure.
void Delivery::FilterStatus(ipc::DeliveryStatus* st, std::string* dsn, std::string* reason) {
  if (!s_.status_filter) return;
  std::string name = ParamName(s_.lmtp, "smtp_delivery_status_filter");
  auto r = s_.status_filter->Lookup(*dsn + " " + *reason);
  if (!r) return log::Warning("{}: {}", name, r.error());
  if (!r->has_value()) return;
  std::string v = **r;
  size_t sp = v.find(' ');
  std::string new_dsn = v.substr(0, sp), text = sp == std::string::npos ? "" : std::string(Trim(v.substr(sp + 1)));
  bool valid = new_dsn.size() >= 5 && (new_dsn[0] == '2' || new_dsn[0] == '4' || new_dsn[0] == '5') &&
               new_dsn[1] == '.' && !text.empty();
  if (!valid || (new_dsn[0] == '2') != ((*dsn)[0] == '2')) {
    log::Warning("{}: ignoring \"{}\" for \"{} {}\": not \"X.Y.Z text\" of the same class (success or failure)",
                 name, v, *dsn, *reason);
    return;
  }
  *st = new_dsn[0] == '2' ? ipc::DeliveryStatus::kSent
        : new_dsn[0] == '5' ? ipc::DeliveryStatus::kBounced : ipc::DeliveryStatus::kDeferred;
  *dsn = std::move(new_dsn);
  *reason = std::move(text);
}

void Delivery::SetReply(size_t i, const smtp::Reply& r, std::string_view in_reply_to) {
  int cls = r.code / 100;
  auto st = cls == 2 ? ipc::DeliveryStatus::kSent
                     : cls == 5 ? ipc::DeliveryStatus::kBounced : ipc::DeliveryStatus::kDeferred;
  std::string reason = cls == 2 ? ReplyText(r)
                                : "host " + conn_->peer() + " said: " + ReplyText(r) + " (in reply to " +
                                      std::string(in_reply_to) + " command)";
  Set(i, st, ReplyDsn(r), std::move(reason), conn_->relay());
}

void Delivery::SetAllOpen(ipc::DeliveryStatus st, const std::string& dsn, const std::string& reason,
                          const std::string& relay) {
  for (size_t i = 0; i < results_.size(); ++i) Set(i, st, dsn, reason, relay);
}

std::string Delivery::LogLine(size_t i, const ipc::DeliveryResult& r) const {
  auto now = Clock::now();
  // Without a usable session all the time went into trying to set one up.
  auto ready = ready_ ? t_ready_ : now;
  double setup = std::chrono::duration<double>(ready - t_start_).count();
  double xfer = std::chrono::duration<double>(now - ready).count();
  double total = queued_seconds_ + setup + xfer;
  // A probe's outcome is logged as Postfix's verify probes are.
  const char* status = r.status == ipc::DeliveryStatus::kSent      ? (probe() ? "deliverable" : "sent")
                       : r.status == ipc::DeliveryStatus::kBounced ? (probe() ? "undeliverable" : "bounced")
                                                                   : "deferred";
  return fmt::format("{}: to=<{}>, relay={}, {}, dsn={}, status={} ({})", msgid_, req_.recipients[i].address, r.relay,
                     log::FormatDelays(total, queued_seconds_, 0, setup, xfer), r.dsn, status, r.reason);
}

void Delivery::Report(ipc::ConnectionFact::Kind kind, const std::string& host, const std::string& addr,
                      const std::string& error) {
  ipc::ConnectionFact c;
  c.kind = kind;
  bool unix_socket = hop_.kind == Nexthop::Kind::kUnix;
  c.relay = unix_socket ? "unix:" + hop_.host : hop_.mx_lookup ? hop_.host : "[" + hop_.host + "]";
  c.port = unix_socket ? 0 : hop_.port;
  c.tls = std::string(TlsLevelName(tls_policy_.level));
  c.host = host;
  c.address = addr;
  c.source = w_.bind && !unix_socket ? w_.bind->ToString() : "";
  c.error = error;
  Forward(c);
}

void Delivery::Forward(const ipc::ConnectionFact& c) {
  if (!finished_ && qmgr_) qmgr_->Connection(c);
}

void Delivery::Finish(bool need_rset) {
  if (finished_) return;
  finished_ = true;
  xfer_timer_.Stop();
  SetAllOpen(ipc::DeliveryStatus::kDeferred, "4.3.0", "delivery ended without a result", "none");
  if (done_) {
    std::vector<ipc::DeliveryResult> all;
    for (size_t i = 0; i < results_.size(); ++i) {
      log::Info("{}", LogLine(i, *results_[i]));
      all.push_back(*results_[i]);
    }
    Release(need_rset);
    return done_(all);
  }
  std::vector<ipc::DeliveryResult> all;
  for (size_t i = 0; i < results_.size(); ++i) {
    if (i >= passed_.size() || !passed_[i]) log::Info("{}", LogLine(i, *results_[i]));
    all.push_back(std::move(*results_[i]));
  }
  // The SMTP connection goes to the cache first: the next request may come
  // on the kept qmgr connection as soon as the results are out.
  Release(need_rset);
  std::shared_ptr<server::DeliveryConn> qmgr = std::move(qmgr_);
  qmgr->Finish(all);
}

// The connection outlives the request in the cache when it is healthy.
void Delivery::Release(bool need_rset) {
  if (!conn_) return;
  std::unique_ptr<Conn> c = std::move(conn_);
  if (c->broken()) return;
  if (!s_.cache_on_demand || w_.ctx->draining) return w_.cache->Quit(std::move(c));
  c->deliveries++;
  if (s_.reuse_count_limit && c->deliveries >= uint64_t(s_.reuse_count_limit)) return w_.cache->Quit(std::move(c));
  if (!need_rset) return w_.cache->Put(cache_key_, std::move(c));
  Conn* raw = c.get();
  raw->Write("RSET\r\n");
  // The callback owns the connection until RSET is answered; then the cache does.
  auto holder = std::make_shared<std::unique_ptr<Conn>>(std::move(c));
  Worker* w = &w_;
  std::string key = cache_key_;
  raw->Expect("sending RSET", s_.rset_ms, [holder, w, key](Result<smtp::Reply> r) {
    std::unique_ptr<Conn> conn = std::move(*holder);
    if (!conn) return;
    if (r && r->code / 100 == 2 && !w->ctx->draining) return w->cache->Put(key, std::move(conn));
    // Otherwise the connection broke (dropping it here closes it; Conn
    // allows that inside its own callback) or refused RSET (say QUIT).
    if (r) w->cache->Quit(std::move(conn));
  });
}

}  // namespace postern::smtp_client
