// smtpd/tls.cc — STARTTLS and wrapper-mode TLS for a session, and the
// smtpd_tls_* parameters. After STARTTLS nothing the client sent in plain
// text survives (CVE-2011-0411) and the session starts over (RFC 3207 §4.2).
#include "smtpd/tls.h"

#include "log/log.h"
#include "smtp/reply.h"
#include "smtpd/session.h"

namespace postern::smtpd {

Result<TlsSettings> TlsSettings::Load(const config::Config& cfg, const std::string& queue_directory) {
  TlsSettings t;
  auto level = cfg.Get("smtpd_tls_security_level");
  auto wrapper = cfg.GetBool("smtpd_tls_wrappermode");
  auto received = cfg.GetBool("smtpd_tls_received_header");
  auto loglevel = cfg.GetInt("smtpd_tls_loglevel");
  auto timeout = cfg.GetTime("smtpd_starttls_timeout");
  auto lifetime = cfg.GetTime("smtpd_tls_session_cache_timeout");
  if (!level) return Err(level.error());
  if (!wrapper) return Err(wrapper.error());
  if (!received) return Err(received.error());
  if (!loglevel) return Err(loglevel.error());
  if (!timeout) return Err(timeout.error());
  if (!lifetime) return Err(lifetime.error());
  if (level->empty() || *level == "none") t.level = Level::kNone;
  else if (*level == "may") t.level = Level::kMay;
  else if (*level == "encrypt") t.level = Level::kEncrypt;
  else return Err("smtpd_tls_security_level: \"" + *level + "\" is not none, may or encrypt");
  t.wrapper = *wrapper;
  t.received_header = *received;
  t.loglevel = int(*loglevel);
  if (!t.enabled()) return t;

  // Postfix: the mandatory settings apply where TLS is required.
  bool mandatory = t.level == Level::kEncrypt || t.wrapper;
  auto protocols = cfg.Get(mandatory ? "smtpd_tls_mandatory_protocols" : "smtpd_tls_protocols");
  auto ciphers = cfg.Get(mandatory ? "smtpd_tls_mandatory_ciphers" : "smtpd_tls_ciphers");
  auto cert = cfg.Get("smtpd_tls_cert_file");
  auto key = cfg.Get("smtpd_tls_key_file");
  auto chains = cfg.GetList("smtpd_tls_chain_files");
  for (auto* r : {&protocols, &ciphers, &cert, &key})
    if (!*r) return Err(r->error());
  if (!chains) return Err(chains.error());
  auto prio_text = tls::PriorityString(*protocols, *ciphers);
  if (!prio_text) return Err("smtpd_tls_protocols/ciphers: " + prio_text.error());
  auto prio = tls::Priority::Parse(*prio_text);
  if (!prio) return Err(prio.error());
  auto creds = tls::Credentials::Server(*cert, *key, *chains);
  if (!creds) return Err("TLS: " + creds.error());
  // Ticket keys live a multiple of the ticket lifetime, so a ticket is
  // honoured by every smtpd for as long as it is valid in most cases.
  uint64_t life = uint64_t(lifetime->count());
  auto ticket = tls::TicketKey::Load(queue_directory, life > 0 ? life * 24 : 86400);
  if (!ticket) return Err(ticket.error());
  tls::GlobalInit(t.loglevel);
  t.config.role = tls::Role::kServer;
  t.config.creds = std::move(*creds);
  t.config.priority = std::move(*prio);
  if (life > 0) t.config.ticket_key = std::move(*ticket);
  t.config.ticket_lifetime_s = life;
  t.config.handshake_timeout_ms = uint64_t(timeout->count()) * 1000;
  t.config.loglevel = t.loglevel;
  return t;
}

void Session::Starttls(std::string_view arg) {
  const TlsSettings& t = svc_->settings().tls;
  if (t.level == TlsSettings::Level::kNone || t.wrapper) return Reply(502, "5.5.1", "Error: command not implemented");
  if (stream_->tls()) return Reply(554, "5.5.1", "Error: TLS already active");
  if (!arg.empty()) return Reply(501, "5.5.4", "Syntax: STARTTLS");
  if (txn_) return Reply(503, "5.5.1", "Error: MAIL transaction in progress");
  Reply(220, "2.0.0", "Ready to start TLS");
  Flush();  // the 220 goes out in plain text, before the handshake
  if (size_t n = reader_.pending(); n > 0) {
    // Commands pipelined behind STARTTLS were sent in the clear: a
    // man in the middle may have put them there. They are never answered.
    log::Verbose("discarding {} bytes of plaintext after STARTTLS from {}", n, Who());
    reader_.Consume(n);
  }
  timer_.Stop();  // the handshake has its own limit (smtpd_starttls_timeout)
  if (t.loglevel >= 2) log::Info("setting up TLS connection from {}", Who());
  stream_->StartTls(t.config, [this](Result<void> r) { OnTlsReady(std::move(r), false); });
}

bool Session::StartWrapperTls() {
  const TlsSettings& t = svc_->settings().tls;
  if (!t.wrapper) return false;
  if (t.loglevel >= 2) log::Info("setting up TLS connection from {}", Who());
  stream_->StartTls(t.config, [this](Result<void> r) { OnTlsReady(std::move(r), true); });
  return true;
}

void Session::OnTlsReady(Result<void> r, bool wrapper) {
  auto self = shared_from_this();
  if (!r) {
    log::Info("SSL_accept error from {}: {}", Who(), r.error());
    Finish(true);
    return;
  }
  const TlsSettings& t = svc_->settings().tls;
  if (t.loglevel >= 1)
    log::Info("Anonymous TLS connection established from {}: {}{}", Who(), stream_->info().Summary(),
              stream_->info().resumed ? " (session resumed)" : "");
  if (wrapper) {
    smtp::AppendReply(&out_, 220, "", svc_->settings().banner);
    ResumeReading();
  } else {
    // RFC 3207 §4.2: forget everything learnt before TLS, HELO included.
    ResetTxn();
    helo_.clear();
    esmtp_ = false;
    helo_after_tls_ = true;
  }
  ArmTimeout();
  Flush();
}

std::string Session::TlsReceivedInfo() const {
  if (!stream_ || !stream_->tls() || !svc_->settings().tls.received_header) return "";
  return "\r\n\t(using " + stream_->info().Summary() + ")\r\n\t(No client certificate requested)";
}

}  // namespace postern::smtpd
