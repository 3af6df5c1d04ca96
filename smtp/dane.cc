// smtp/dane.cc — DANE for SMTP (RFC 7672) at levels dane and dane-only: the
// TLSA records of each server (_port._tcp.host), trusted only when the
// configured resolver validated them (AD bit) and the MX and address records
// that led to the server were validated too. Usable records make TLS
// mandatory and authenticate the server by them; without them dane falls
// back to may and dane-only gives the server no mail. An MX record that was
// not validated (the server's own records were) is
// smtp_tls_dane_insecure_mx_policy's: may ignores the TLSA records, encrypt
// takes them as "TLS required" only, dane uses them but says Trusted.
#include "postern/log/log.h"
#include "postern/tls/verify.h"
#include "smtp/delivery.h"

namespace postern::smtp_client {

bool Delivery::DaneLookupNeeded() const { return tls_policy_.dane() && dane_session_ != sessions_; }

bool Delivery::TlsRequired() const {
  return tls_policy_.required() || (tls_policy_.dane() && dane_session_ == sessions_ && dane_required_);
}

void Delivery::LookupTlsa() {
  dane_session_ = sessions_;
  dane_tlsa_.clear();
  dane_required_ = tls_policy_.level == TlsLevel::kDaneOnly;
  dane_insecure_mx_ = false;
  const std::string base = conn_->host();
  if (!current_.dnssec || (!current_.mx_secure && tls_policy_.level == TlsLevel::kDaneOnly)) {
    // Insecure MX or address records: TLSA records could not be trusted either.
    if (w_.tls->loglevel() >= 2) log::Info("{}: no DNSSEC-validated MX/address records, no DANE", conn_->relay());
    if (tls_policy_.level == TlsLevel::kDaneOnly)
      return SiteFailed("TLS is required, but the DNS records of host " + conn_->peer() +
                            " are not DNSSEC-validated (TLS security level dane-only)",
                        "4.7.5", false);
    return OnTlsa(dns::TlsaResult{});
  }
  if (!current_.mx_secure) {
    // smtp_tls_dane_insecure_mx_policy: a forged MX could have named this host.
    if (w_.tls->dane_insecure_mx_policy() == TlsLevel::kMay) {
      if (w_.tls->loglevel() >= 2)
        log::Info("{}: MX record of {} not DNSSEC-validated: TLSA records ignored", conn_->relay(), hop_.host);
      return OnTlsa(dns::TlsaResult{});
    }
    dane_insecure_mx_ = true;
  }
  auto self = shared_from_this();
  std::string name = "_" + std::to_string(current_.port) + "._tcp." + base;
  ticket_ = w_.resolver->LookupTlsa(name, [self, name](dns::TlsaResult r) {
    if (self->finished_ || !self->conn_) return;
    if (r.outcome.temporary() || (!r.outcome.ok() && r.outcome.status != dns::Status::kNxDomain &&
                                  r.outcome.status != dns::Status::kNoData)) {
      // A validated zone that cannot answer may be an attack: no mail.
      return self->SiteFailed("TLSA lookup error for " + self->conn_->host() + ":" +
                                  std::to_string(self->current_.port) + ": " + r.outcome.reason,
                              "4.7.5", false);
    }
    self->OnTlsa(std::move(r));
  });
}

void Delivery::OnTlsa(dns::TlsaResult r) {
  bool secure = r.authentic && r.outcome.ok();
  if (secure) {
    for (const dns::Tlsa& t : r.records)
      if (tls::UsableTlsa(t)) dane_tlsa_.push_back(t);
    // RFC 7672 §2.2: records that are all unusable still mean "encrypt".
    dane_required_ = true;
    if (dane_insecure_mx_ && w_.tls->dane_insecure_mx_policy() == TlsLevel::kEncrypt) {
      if (!dane_tlsa_.empty() && w_.tls->loglevel() >= 2)
        log::Info("{}: MX record of {} not DNSSEC-validated: TLSA records require encryption, not authentication",
                  conn_->relay(), hop_.host);
      dane_tlsa_.clear();
    } else if (dane_tlsa_.empty()) {
      log::Info("{}: all TLSA records unusable, using encryption without authentication", conn_->relay());
    }
  } else if (tls_policy_.level == TlsLevel::kDaneOnly) {
    return SiteFailed("TLS is required, but no DNSSEC-validated TLSA records were found for host " +
                          conn_->peer() + " (TLS security level dane-only)",
                      "4.7.5", false);
  }
  if (w_.tls->loglevel() >= 2)
    log::Info("{}: {} usable TLSA record(s){}", conn_->relay(), dane_tlsa_.size(),
              secure ? "" : " (no DNSSEC-validated TLSA records: opportunistic TLS)");
  if (conn_->tls() || !w_.tls->wrappermode()) return AfterHelo();
  Handshake();
}

bool Delivery::DaneVerified(std::string* detail) const {
  std::vector<std::string> names = {conn_->host()};
  if (hop_.host != conn_->host()) names.push_back(hop_.host);
  return tls::DaneMatches(dane_tlsa_, tls::PeerChain(conn_->tls_session()), names, detail);
}

}  // namespace postern::smtp_client
