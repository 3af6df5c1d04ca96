// smtp/starttls.cc — the client's STARTTLS, as Postfix's smtp does it: the
// destination's level decides whether TLS is tried (may), required (encrypt)
// or required with a certificate that chains to a trusted CA and matches the
// server's name (verify, secure). Failures are site failures (the next MX is
// tried) with Postfix's wording; under may a failed handshake is retried in
// plain text on a new connection to the same server.
#include "postern/log/log.h"
#include "smtp/delivery.h"

namespace postern::smtp_client {

Result<void> Delivery::LoadTlsPolicy() {
  tls_policy_ = TlsPolicy{};
  tls_cfg_.reset();
  if (!w_.tls) return {};
  auto p = w_.tls->PolicyFor(TlsPolicyKeys(req_.nexthop, hop_.host, hop_.port, hop_.mx_lookup));
  if (!p) return Err(p.error());
  tls_policy_ = std::move(*p);
  if (tls_policy_.verifies() && tls_policy_.match.empty()) tls_policy_.match = w_.tls->DefaultMatch(tls_policy_.level);
  if (tls_policy_.level == TlsLevel::kNone) return {};
  auto cfg = w_.tls->ConfigFor(tls_policy_);
  if (!cfg) return Err("TLS configuration for " + hop_.host + ": " + cfg.error());
  tls_cfg_ = std::move(*cfg);
  return {};
}

void Delivery::AfterHelo() {
  if (conn_->tls() || !tls_cfg_ || plaintext_retry_) return Authenticate();
  if (!conn_->esmtp || !conn_->ehlo.starttls) {
    if (tls_policy_.required())
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
      if (!self->tls_policy_.required()) return self->Authenticate();
      std::string dsn = ReplyDsn(*r);
      dsn[0] = '4';
      return self->SiteFailed("TLS is required, but host " + self->conn_->peer() +
                                  " refused to start TLS: " + ReplyText(*r),
                              dsn, false);
    }
    if (self->w_.tls->loglevel() >= 2) log::Info("setting up TLS connection to {}", self->conn_->relay());
    self->conn_->StartTls(*self->tls_cfg_, [self](Result<void> hr) { self->OnTlsReady(std::move(hr)); });
  });
}

void Delivery::OnTlsReady(Result<void> r) {
  if (finished_) return;
  const std::string relay = conn_->relay();
  if (!r) {
    log::Info("SSL_connect error to {}: {}", relay, r.error());
    if (!tls_policy_.required()) return RetryPlaintext();
    return SiteFailed("Cannot start TLS: handshake failure", "4.7.5", false);
  }
  std::vector<std::string> names;
  if (tls_policy_.verifies()) names = MatchNames(tls_policy_.match, conn_->host(), hop_.host);
  std::string detail;
  tls::PeerStatus status = tls::CheckPeer(conn_->tls_session(), names, &detail);
  if (tls_policy_.verifies() && status != tls::PeerStatus::kVerified) {
    bool trusted = status == tls::PeerStatus::kTrusted;
    if (trusted) log::Info("server certificate verification failed for {}: {}", relay, detail);
    else log::Info("certificate verification failed for {}: {}", relay, detail.empty() ? "no certificate" : detail);
    return SiteFailed(trusted ? "Server certificate not verified" : "Server certificate not trusted", "4.7.5",
                      false);
  }
  if (w_.tls->loglevel() >= 1)
    log::Info("{} TLS connection established to {}: {}", tls::PeerStatusName(status), relay,
              conn_->tls_info().Summary());
  // RFC 3207 §4.2: what the server said before TLS is forgotten; ask again.
  conn_->ehlo = {};
  conn_->esmtp = false;
  Helo(false);
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
