// smtpd/auth_dovecot.cc — AUTH with smtpd_sasl_type = dovecot: the session
// relays the client's responses to Dovecot's auth server and its challenges
// back (334), holding still while Dovecot thinks; nothing said is logged.
#include "postern/log/log.h"
#include "postern/smtp/sasl.h"
#include "smtpd/session.h"

namespace postern::smtpd {

namespace {

// A response to a Dovecot mechanism (SCRAM, GSSAPI ...) may exceed PLAIN's bound.
constexpr size_t kDovecotResponseMax = 8192;

bool IsBase64(std::string_view s) {
  auto d = smtp::Base64Decode(s, kDovecotResponseMax);
  if (!d) return false;
  smtp::WipeSecret(&*d);
  return true;
}

// Dovecot's reason= goes into a reply and a log line: printable ASCII only.
std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 200)) out += (c >= 0x20 && c < 0x7f) ? c : ' ';
  return out;
}

}  // namespace

// A client that says EHLO while this process is still greeting Dovecot
// waits for the mechanisms (at most the handshake's timeout); once they are
// known they are kept and offered even while Dovecot is down (AUTH then 454).
bool Session::AuthWaitForMechanisms(std::string_view helo_arg) {
  dovecot::Client* dc = svc_->auth().dovecot();
  const AuthSettings& a = svc_->auth().settings();
  if (!dc || !a.enable || (a.tls_auth_only && !tls_active())) return false;
  dc->Connect();  // when down: try again (at most once a second)
  if (dc->mechanisms() || !dc->connecting()) return false;
  paused_ = true;
  std::weak_ptr<Session> weak = weak_from_this();
  dc->WhenSettled([weak, arg = std::string(helo_arg)] {
    auto s = weak.lock();
    if (!s || s->finished_ || s->closing_) return;
    s->paused_ = false;
    s->Helo(arg, true);
    s->AfterWait();
  });
  return true;
}

void Session::AuthDovecotStart(std::optional<std::string> initial) {
  if (initial && *initial != "=" && (initial->size() > kDovecotResponseMax || !IsBase64(*initial)))
    return AuthGarbage("Cannot decode response");
  if (initial && *initial == "=") initial = "";
  auth_.step = AuthState::Step::kVerifying;
  paused_ = true;
  std::weak_ptr<Session> weak = weak_from_this();
  svc_->auth().dovecot()->WhenSettled([weak, initial = std::move(initial)]() mutable {
    auto s = weak.lock();
    if (!s || s->finished_ || s->closing_) return;
    s->AuthDovecotSend(std::move(initial));
  });
}

void Session::AuthDovecotSend(std::optional<std::string> initial) {
  dovecot::Client* dc = svc_->auth().dovecot();
  if (!dc->ready()) return AuthResume(454, "4.7.0", "Temporary authentication failure");
  dovecot::AuthRequest r;
  r.mechanism = auth_.mechanism;
  r.service = svc_->auth().settings().service;
  r.initial = std::move(initial);
  r.secured = tls_active();
  if (!local_uid_) {
    r.local_addr = local_addr_;
    r.remote_addr = client_addr_;
    r.local_port = local_port_;
  }
  std::weak_ptr<Session> weak = weak_from_this();
  auth_.dovecot_id = dc->Start(std::move(r), [weak](dovecot::Client::Answer a) {
    auto s = weak.lock();
    if (!s || s->finished_ || s->closing_) return;
    s->AuthDovecotAnswer(std::move(a));
  });
}

void Session::AuthDovecotContinue(std::string_view line) {
  if (line.size() > kDovecotResponseMax) return AuthAbort(500, "5.5.6", "Authentication exchange line is too long");
  if (!IsBase64(line)) return AuthGarbage("Cannot decode response");
  auth_.step = AuthState::Step::kVerifying;
  paused_ = true;
  svc_->auth().dovecot()->Continue(auth_.dovecot_id, line);
}

void Session::AuthDovecotAnswer(dovecot::Client::Answer a) {
  using K = dovecot::Client::Answer::Kind;
  if (a.kind == K::kCont) {
    auth_.step = AuthState::Step::kDovecotResponse;
    paused_ = false;
    AuthChallenge(a.data.size() <= kDovecotResponseMax && IsBase64(a.data) ? a.data : "");
    return AfterWait();
  }
  auth_.dovecot_id = 0;
  std::string user = smtp::IsValidSaslUsername(a.user) ? a.user : "";
  if (a.kind == K::kOk && user.empty()) {
    log::Warning("SASL: Dovecot's auth server accepted a login without a usable user name");
    return AuthDone(AuthOutcome::kTempFail, user);
  }
  AuthOutcome o = a.kind == K::kOk ? AuthOutcome::kOk : a.kind == K::kFail ? AuthOutcome::kFailed : AuthOutcome::kTempFail;
  AuthDone(o, user, Printable(a.reason));
}

void Session::AuthDovecotForget() {
  if (auth_.dovecot_id == 0) return;
  if (dovecot::Client* dc = svc_->auth().dovecot()) dc->Forget(auth_.dovecot_id);
  auth_.dovecot_id = 0;
}

}  // namespace postern::smtpd
