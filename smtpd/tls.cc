// smtpd/tls.cc — STARTTLS and wrapper-mode TLS for a session, and the
// smtpd_tls_* parameters. After STARTTLS nothing the client sent in plain
// text survives (CVE-2011-0411) and the session starts over (RFC 3207 §4.2).
#include "smtpd/tls.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "postern/event/event.h"
#include "postern/log/log.h"
#include "postern/smtp/reply.h"
#include "smtpd/session.h"

namespace postern::smtpd {

namespace {

// Postfix's "cannot get private key from file": the one line an admin needs.
Result<void> CheckReadable(std::string_view param, const std::string& path) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  char c;
  if (!fd.valid() || read(fd.get(), &c, 1) < 0)
    return Err("cannot read " + std::string(param) + " " + path + ": " + std::strerror(errno));
  return {};
}

Result<bool> TlsEnabled(const config::Config& cfg) {
  auto level = cfg.Get("smtpd_tls_security_level");
  auto wrapper = cfg.GetBool("smtpd_tls_wrappermode");
  if (!level) return Err(level.error());
  if (!wrapper) return Err(wrapper.error());
  return *wrapper || !(level->empty() || *level == "none");
}

struct KeyFiles {
  std::string cert, key;
  std::vector<std::string> chains;
};

Result<KeyFiles> Files(const config::Config& cfg) {
  auto cert = cfg.Get("smtpd_tls_cert_file");
  auto key = cfg.Get("smtpd_tls_key_file");
  auto chains = cfg.GetList("smtpd_tls_chain_files");
  if (!cert) return Err(cert.error());
  if (!key) return Err(key.error());
  if (!chains) return Err(chains.error());
  return KeyFiles{*cert, key->empty() ? *cert : *key, *chains};
}

}  // namespace

Result<ServerKeys> ServerKeys::Load(const config::Config& cfg) {
  ServerKeys k;
  auto on = TlsEnabled(cfg);
  if (!on) return Err(on.error());
  auto f = Files(cfg);
  if (!f) return Err(f.error());
  k.cert_file = f->cert, k.key_file = f->key, k.chain_files = f->chains;
  if (!*on) return k;
  k.read = true;
  Result<void> readable;
  if (!k.chain_files.empty()) {
    for (const std::string& c : k.chain_files)
      if (readable = CheckReadable("smtpd_tls_chain_files", c); !readable) break;
  } else if (k.cert_file.empty()) {
    readable = Err(std::string("no server certificate (smtpd_tls_cert_file or smtpd_tls_chain_files)"));
  } else if (readable = CheckReadable("smtpd_tls_cert_file", k.cert_file); readable) {
    readable = CheckReadable("smtpd_tls_key_file", k.key_file);
  }
  if (!readable) {
    log::Warning("TLS: {} -- disabling TLS support", readable.error());
    return k;
  }
  auto creds = tls::Credentials::Server(k.cert_file, k.key_file, k.chain_files);
  if (!creds) {
    log::Warning("TLS: {} -- disabling TLS support", creds.error());
    return k;
  }
  k.creds = std::move(*creds);
  return k;
}

bool ServerKeys::Same(const config::Config& cfg) const {
  auto f = Files(cfg);
  return f && f->cert == cert_file && f->key == key_file && f->chains == chain_files;
}

Result<TlsSettings> TlsSettings::Load(const config::Config& cfg, const std::string& queue_directory,
                                      ServerKeys* keys) {
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
  if (*loglevel < 0) return Err("smtpd_tls_loglevel: must be at least 0");
  if (timeout->count() <= 0) return Err("smtpd_starttls_timeout: must be more than 0");
  t.wrapper = *wrapper;
  t.received_header = *received;
  t.loglevel = int(*loglevel);
  if (!t.enabled()) return t;

  // Postfix: the mandatory settings apply where TLS is required.
  bool mandatory = t.level == Level::kEncrypt || t.wrapper;
  auto protocols = cfg.Get(mandatory ? "smtpd_tls_mandatory_protocols" : "smtpd_tls_protocols");
  auto ciphers = cfg.Get(mandatory ? "smtpd_tls_mandatory_ciphers" : "smtpd_tls_ciphers");
  if (!protocols) return Err(protocols.error());
  if (!ciphers) return Err(ciphers.error());
  auto prio_text = tls::PriorityString(*protocols, *ciphers);
  if (!prio_text) return Err("smtpd_tls_protocols/ciphers: " + prio_text.error());
  auto prio = tls::Priority::Parse(*prio_text);
  if (!prio) return Err(prio.error());
  if (!keys->read || !keys->Same(cfg)) {
    auto k = ServerKeys::Load(cfg);
    if (!k) return Err(k.error());
    *keys = std::move(*k);
  }
  tls::GlobalInit(t.loglevel);
  t.config.role = tls::Role::kServer;
  t.config.creds = keys->creds;
  t.config.priority = std::move(*prio);
  t.config.handshake_timeout_ms = uint64_t(timeout->count()) * 1000;
  t.config.loglevel = t.loglevel;
  if (!t.config.creds) return t;  // TLS unavailable: the warning is out already
  // Ticket keys live a multiple of the ticket lifetime, so a ticket is
  // honoured by every smtpd for as long as it is valid in most cases.
  uint64_t life = uint64_t(lifetime->count());
  auto ticket = tls::TicketKey::Load(queue_directory, life > 0 ? life * 24 : 86400);
  if (!ticket) return Err(ticket.error());
  if (life > 0) t.config.ticket_key = std::move(*ticket);
  t.config.ticket_lifetime_s = life;
  return t;
}

void Session::Starttls(std::string_view arg) {
  const TlsSettings& t = svc_->settings().tls;
  if (t.level == TlsSettings::Level::kNone || t.wrapper) return Reply(502, "5.5.1", "Error: command not implemented");
  if (stream_->tls()) return Reply(554, "5.5.1", "Error: TLS already active");
  if (!arg.empty()) return Reply(501, "5.5.4", "Syntax: STARTTLS");
  if (!t.available()) return Reply(454, "4.7.0", "TLS not available due to local problem");
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
  if (!t.available()) {
    log::Warning("Wrapper-mode request dropped from {} for service {}. TLS context initialization failed. "
                 "For details see earlier warnings in your logs.", Who(), svc_->service_name());
    Finish(false);
    return true;
  }
  if (t.loglevel >= 2) log::Info("setting up TLS connection from {}", Who());
  stream_->StartTls(t.config, [this](Result<void> r) { OnTlsReady(std::move(r), true); });
  return true;
}

void Session::OnTlsReady(Result<void> r, bool wrapper) {
  auto self = shared_from_this();
  if (!r) {
    log::Info("SSL_accept error from {}: {}", Who(), r.error());  // an error: logged at every loglevel
    Finish(true);
    return;
  }
  // smtpd_client_new_tls_session_rate_limit (with Redis, this runs again when the count comes)
  if (!stream_->info().resumed && NewTlsLimited([this, wrapper] { OnTlsReady(Result<void>{}, wrapper); })) return;
  const TlsSettings& t = svc_->settings().tls;
  if (t.loglevel >= 2) {
    // What GnuTLS agreed on beyond the summary: key exchange, signature, MAC.
    if (char* desc = gnutls_session_get_desc(stream_->session())) {
      log::Info("{}: TLS handshake done: {}{}", Who(), desc, stream_->info().resumed ? ", session resumed" : "");
      gnutls_free(desc);
    }
  }
  if (t.loglevel >= 1)
    log::Info("Anonymous TLS connection established from {}: {}{}", Who(), stream_->info().Summary(),
              stream_->info().resumed ? " (session resumed)" : "");
  if (wrapper) {
    smtp::AppendReply(&out_, 220, "", svc_->settings().banner);
    entry_.Reply(220, "", svc_->settings().banner);
    ResumeReading();
  } else {
    // RFC 3207 §4.2: forget everything learnt before TLS: HELO, the
    // transaction, and AUTH (a login and its failures alike).
    ResetTxn();
    helo_.clear();
    esmtp_ = false;
    helo_after_tls_ = true;
    auth_.Reset();
  }
  ArmTimeout();
  Flush();
}

std::string Session::TlsReceivedInfo() const {
  if (!stream_ || !stream_->tls() || !svc_->settings().tls.received_header) return "";
  return "\r\n\t(using " + stream_->info().Summary() + ")\r\n\t(No client certificate requested)";
}

}  // namespace postern::smtpd
