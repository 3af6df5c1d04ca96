// smtp/starttls.cc — the client's STARTTLS, as Postfix's smtp does it: the
// destination's level decides whether TLS is tried (may), required (encrypt)
// or required with a certificate that chains to a trusted CA and matches the
// server's name (verify, secure). Failures are site failures (the next MX is
// tried) with Postfix's wording; under may a failed handshake is retried in
// plain text on a new connection to the same server.
#include "postern/log/log.h"
#include "postern/tls/verify.h"
#include "smtp/delivery.h"

namespace postern::smtp_client {

Result<void> Delivery::LoadTlsPolicy(const std::optional<TlsPolicy>& sts) {
  tls_policy_ = TlsPolicy{};
  tls_cfg_.reset();
  if (!w_.tls) return {};
  auto p = w_.tls->PolicyFor(TlsPolicyKeys(req_.nexthop, hop_.host, hop_.port, hop_.mx_lookup), sts);
  if (!p) return Err(p.error());
  tls_policy_ = std::move(*p);
  if (w_.tls->wrappermode() && !tls_policy_.required() && !tls_policy_.dane()) {
    // Postfix: in wrapper mode there is no session without TLS.
    log::Warning("{} requires \"{} = encrypt\" (or stronger)", ParamName(s_.lmtp, "smtp_tls_wrappermode"),
                 ParamName(s_.lmtp, "smtp_tls_security_level"));
    tls_policy_.level = TlsLevel::kEncrypt;
  }
  if (tls_policy_.matches() && tls_policy_.match.empty()) tls_policy_.match = w_.tls->DefaultMatch(tls_policy_.level);
  if (tls_policy_.level == TlsLevel::kFingerprint && tls_policy_.match.empty())
    return Err("TLS security level fingerprint for " + hop_.host + " without a fingerprint to match (" +
               ParamName(s_.lmtp, "smtp_tls_fingerprint_cert_match") + " or match=)");
  if (tls_policy_.dane() && !w_.tls->dnssec()) {
    const std::string dns_param = ParamName(s_.lmtp, "smtp_dns_support_level");
    if (tls_policy_.level == TlsLevel::kDaneOnly)
      return Err("TLS security level dane-only for " + hop_.host + " requires " + dns_param + " = dnssec");
    log::Warning("TLS security level dane for {} requires {} = dnssec; using may", hop_.host, dns_param);
    tls_policy_.level = TlsLevel::kMay;
  }
  if (tls_policy_.level == TlsLevel::kNone) return {};
  auto cfg = w_.tls->ConfigFor(tls_policy_);
  if (!cfg) return Err("TLS configuration for " + hop_.host + ": " + cfg.error());
  tls_cfg_ = std::move(*cfg);
  return {};
}

void Delivery::AfterHelo() {
  if (conn_->tls()) {
    // Saved now: a TLS 1.3 ticket arrives after the handshake, before this reply.
    if (auto* cache = w_.tls->sessions()) cache->Save(TlsSessionKey(), conn_->tls_session());
    return Authenticate();
  }
  if (!tls_cfg_ || plaintext_retry_) return Authenticate();
  if (DaneLookupNeeded()) return LookupTlsa();
  if (!conn_->esmtp || !conn_->ehlo.starttls) {
    if (TlsRequired())
      return SiteFailed("TLS is required, but was not offered by host " + conn_->peer(), "4.7.4", false);
    return Authenticate();
  }
  StartTls();
}

void Delivery::StartTls() {
  auto self = shared_from_this();
  conn_->Write("STARTTLS\r\n");
  conn_->Expect("sending STARTTLS", s_.helo_ms, [self](Result<smtp::Reply> r) {
    if (self->finished_) return;
    if (!r) return self->SiteFailed(r.error(), "4.4.2", false);
    if (r->code / 100 != 2) {
      // Offered, then refused: opportunistic TLS goes on in plain text.
      if (!self->TlsRequired()) return self->Authenticate();
      std::string dsn = ReplyDsn(*r);
      dsn[0] = '4';
      return self->SiteFailed("TLS is required, but host " + self->conn_->peer() +
                                  " refused to start TLS: " + ReplyText(*r),
                              dsn, false);
    }
    self->Handshake();
  });
}

void Delivery::Handshake() {
  if (DaneLookupNeeded()) return LookupTlsa();  // wrapper mode: nothing was said yet
  auto self = shared_from_this();
  if (w_.tls->loglevel() >= 2) log::Info("setting up TLS connection to {}", conn_->relay());
  tls::Config cfg = *tls_cfg_;
  cfg.server_name = w_.tls->ServerName(tls_policy_, conn_->host(), hop_.host);
  // RFC 7672 §8.1: with DANE the name is the TLSA base domain.
  if (!dane_tlsa_.empty() && cfg.server_name.empty()) cfg.server_name = conn_->host();
  if (auto* cache = w_.tls->sessions()) cfg.resume = cache->Find(TlsSessionKey());
  conn_->StartTls(std::move(cfg), [self](Result<void> hr) { self->OnTlsReady(std::move(hr)); });
}

void Delivery::OnTlsReady(Result<void> r) {
  if (finished_) return;
  const std::string relay = conn_->relay();
  if (!r) {
    log::Info("SSL_connect error to {}: {}", relay, r.error());
    if (!TlsRequired()) return RetryPlaintext();
    return SiteFailed("Cannot start TLS: handshake failure", "4.7.5", false);
  }
  std::vector<std::string> names;
  if (tls_policy_.verifies()) names = MatchNames(tls_policy_.match, conn_->host(), hop_.host);
  std::string detail;
  tls::PeerStatus status = tls::CheckPeer(conn_->tls_session(), names, &detail);
  if (tls_policy_.dane() && !dane_tlsa_.empty()) {
    if (!DaneVerified(&detail)) {
      log::Info("certificate verification failed for {}: {}", relay, detail);
      return SiteFailed("Server certificate not verified", "4.7.5", false);
    }
    // Postfix: a forged MX record could have led here, so only "Trusted".
    status = dane_insecure_mx_ ? tls::PeerStatus::kTrusted : tls::PeerStatus::kVerified;
  }
  if (tls_policy_.level == TlsLevel::kFingerprint) {
    // No CA here: the certificate is what its digest says it is, or nothing.
    if (!FingerprintMatched(&detail)) {
      log::Info("certificate verification failed for {}: {}", relay, detail);
      return SiteFailed("Server certificate not verified", "4.7.5", false);
    }
    status = tls::PeerStatus::kVerified;
  }
  if (tls_policy_.verifies() && status != tls::PeerStatus::kVerified) {
    bool trusted = status == tls::PeerStatus::kTrusted;
    if (trusted) log::Info("server certificate verification failed for {}: {}", relay, detail);
    else log::Info("certificate verification failed for {}: {}", relay, detail.empty() ? "no certificate" : detail);
    return SiteFailed(trusted ? "Server certificate not verified" : "Server certificate not trusted", "4.7.5",
                      false);
  }
  if (w_.tls->loglevel() >= 2 && conn_->tls_info().resumed) log::Info("{}: Reusing old session", relay);
  if (w_.tls->loglevel() >= 1)
    log::Info("{} TLS connection established to {}: {}", tls::PeerStatusName(status), relay,
              conn_->tls_info().Summary());
  if (w_.tls->wrappermode()) return Greeting();
  // RFC 3207 §4.2: what the server said before TLS is forgotten; ask again.
  conn_->ehlo = {};
  conn_->esmtp = false;
  Helo(false);
}

std::string Delivery::TlsSessionKey() const {
  return TlsSessionCache::Key(s_.lmtp ? "lmtp" : "smtp", hop_.host, conn_->relay(), tls_policy_.Key(),
                              w_.tls->ServerName(tls_policy_, conn_->host(), hop_.host));
}

bool Delivery::FingerprintMatched(std::string* detail) const {
  std::string_view digest = w_.tls->fingerprint_digest_name();
  tls::PeerFingerprints fp = tls::PeerFingerprint(conn_->tls_session(), w_.tls->fingerprint_digest());
  if (fp.cert.empty()) {
    *detail = "no server certificate";
    return false;
  }
  for (const std::string& want : tls_policy_.match)
    if (tls::FingerprintEquals(want, fp.cert) || tls::FingerprintEquals(want, fp.pubkey)) return true;
  *detail = fmt::format("no fingerprint match: certificate {} {}, public key {} {}", digest, fp.cert, digest,
                        fp.pubkey);
  return false;
}

// Postfix: with opportunistic TLS a server whose handshake fails gets the
// mail in plain text rather than none at all.
void Delivery::RetryPlaintext() {
  log::Info("{}: TLS handshake failed; trying again in plain text (TLS security level may)", conn_->relay());
  conn_.reset();
  plaintext_retry_ = true;
  ready_ = false;
  --sessions_;  // the same server once more: not another session for smtp_mx_session_limit
  Connect(current_);
}

}  // namespace postern::smtp_client
