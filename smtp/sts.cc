// smtp/sts.cc — MTA-STS (RFC 8461) in the smtp client: "sts:" in
// smtp_tls_policy_maps makes the policy of a destination reached by MX
// lookup count when no table before it names the destination. The policy is
// resolved on the worker's loop (lib/sts: TXT id, policy cache, HTTPS fetch)
// before routing; enforce mode is Postfix's "secure" level matching the
// policy's MX patterns, and MX hosts outside them get no connection; testing
// mode is logged only.
#include "postern/log/log.h"
#include "postern/util/strings.h"
#include "smtp/delivery.h"

namespace postern::smtp_client {

void Delivery::ResolveTlsPolicy() {
  bool applies = w_.sts && w_.tls && hop_.mx_lookup && hop_.kind != Nexthop::Kind::kUnix;
  if (applies) {
    auto before = w_.tls->PolicyBeforeSts(TlsPolicyKeys(req_.nexthop, hop_.host, hop_.port, hop_.mx_lookup));
    // A table error is reported by PolicyReady's own lookup.
    applies = before && !before->has_value();
  }
  if (!applies) return PolicyReady(std::nullopt);
  auto self = shared_from_this();
  sts_query_ = w_.sts->Lookup(hop_.host, [self](sts::Verdict v) {
    if (self->finished_) return;
    self->OnStsVerdict(std::move(v));
  });
}

void Delivery::OnStsVerdict(sts::Verdict v) {
  sts_query_.reset();
  if (!v.policy || v.policy->mode == sts::Mode::kNone) {
    if (v.policy) log::Info("{}: MTA-STS policy of {} (id {}, {}): mode none", msgid_, hop_.host, v.id, v.source);
    return PolicyReady(std::nullopt);
  }
  sts_policy_ = v.policy;
  std::string tls_text = sts::TlsPolicyText(*v.policy);
  bool enforce = v.policy->mode == sts::Mode::kEnforce;
  std::string mx;
  for (const std::string& m : v.policy->mx) mx += (mx.empty() ? "" : " ") + m;
  log::Info("{}: MTA-STS policy of {} (id {}, {}): mode {}, mx {}, max_age {}: {}", msgid_, hop_.host, v.id, v.source,
            sts::ModeName(v.policy->mode), mx, v.policy->max_age,
            enforce ? "TLS policy " + tls_text : std::string("not enforced"));
  if (!enforce) return PolicyReady(std::nullopt);
  auto p = ParseTlsPolicy(tls_text);
  if (!p) {  // patterns ParsePolicy accepted always make a valid entry; kept as a guard
    SetAllOpen(ipc::DeliveryStatus::kDeferred, "4.7.5", "MTA-STS policy of " + hop_.host + ": " + p.error(), "none");
    return Finish(false);
  }
  PolicyReady(*p);
}

bool Delivery::StsRefuses(const Target& t) {
  if (!sts_policy_ || !t.path.empty() || sts::MxAllowed(*sts_policy_, t.host)) return false;
  if (sts_policy_->mode != sts::Mode::kEnforce) {
    log::Info("{}: MX host {} does not match the MTA-STS policy of {} (mode testing: tried all the same)", msgid_,
              t.host, hop_.host);
    return false;
  }
  last_reason_ = "MX host " + t.host + " does not match the MTA-STS policy of " + hop_.host;
  last_dsn_ = "4.7.5";
  last_relay_ = "none";
  last_permanent_ = false;
  log::Info("{}: {}[{}]: {}", msgid_, t.host, t.addr.ToString(), last_reason_);
  return true;
}

}  // namespace postern::smtp_client
