// smtpd/auth_session.cc — the AUTH command in a session (RFC 4954, PLAIN and
// LOGIN): the 334 exchange, the wait for the off-loop password check, the
// delay and the 421 after too many failures. Nothing said here is logged.
#include <algorithm>

#include "postern/log/log.h"
#include "postern/smtp/reply.h"
#include "postern/smtp/sasl.h"
#include "smtpd/session.h"

namespace postern::smtpd {

bool Session::AuthOffered() const {
  const AuthSettings& a = svc_->auth().settings();
  return a.enable && !svc_->auth().broken() && (!a.tls_auth_only || tls_active()) &&
         !svc_->auth().Mechanisms(tls_active()).empty();
}

std::string Session::AuthEhloLine() const {
  std::string line = "AUTH";
  for (const std::string& m : svc_->auth().Mechanisms(tls_active())) line += " " + m;
  return line;
}

void Session::Auth(std::string_view arg) {
  const AuthSettings& a = svc_->auth().settings();
  if (a.enable && svc_->auth().broken())
    return Reply(454, "4.7.0", "Temporary authentication failure: Server configuration error");
  // Dovecot has not told this process its mechanisms yet: it is down.
  dovecot::Client* dc = svc_->auth().dovecot();
  if (a.enable && dc && !dc->mechanisms() && (!a.tls_auth_only || tls_active())) {
    dc->Connect();
    return Reply(454, "4.7.0", "Temporary authentication failure");
  }
  if (!AuthOffered()) return Reply(503, "5.5.1", "Error: authentication not enabled");
  if (!esmtp_) return Reply(503, "5.5.1", "Error: send EHLO first");
  if (auth_.authenticated()) return Reply(503, "5.5.1", "Error: already authenticated");
  if (txn_) return Reply(503, "5.5.1", "Error: MAIL transaction in progress");
  if (RateLimited("auth", [this, a = std::string(arg)] { Auth(a); })) return;  // smtpd_client_auth_rate_limit
  auto cmd = smtp::ParseAuthCommand(arg);
  if (!cmd) return Reply(501, "5.5.4", "Syntax: AUTH mechanism");
  const auto mechs = svc_->auth().Mechanisms(tls_active());
  if (std::find(mechs.begin(), mechs.end(), cmd->mechanism) == mechs.end())
    return Reply(504, "5.5.4", "Unsupported authentication mechanism");
  auth_.mechanism = cmd->mechanism;
  if (dc) return AuthDovecotStart(std::move(cmd->initial));
  if (cmd->mechanism == "PLAIN") {
    auth_.step = AuthState::Step::kPlainResponse;
    if (!cmd->initial) return AuthChallenge("");
  } else {
    auth_.step = AuthState::Step::kLoginUser;
    if (!cmd->initial) return AuthChallenge(smtp::kLoginUserPrompt);
  }
  std::string initial = std::move(*cmd->initial);
  AuthResponse(initial == "=" ? std::string_view() : std::string_view(initial));
  smtp::WipeSecret(&initial);
}

// A 334 is not an answer to the command: it does not count it as done.
void Session::AuthChallenge(std::string_view text) {
  entry_.Reply(334, "", text);  // the server's prompt; the client's answers are never logged
  smtp::AppendReply(&out_, 334, "", text);
}

void Session::AuthAbort(int code, std::string_view enh, std::string_view text) {
  AuthDovecotForget();
  auth_.step = AuthState::Step::kNone;
  smtp::WipeSecret(&auth_.login_user);
  Reply(code, enh, text);
}

void Session::AuthResponse(std::string_view line) {
  if (smtp::IsSaslCancel(line)) return AuthAbort(501, "5.7.0", "Authentication aborted");
  if (auth_.step == AuthState::Step::kDovecotResponse) return AuthDovecotContinue(line);
  if (line.size() > smtp::kSaslResponseMax) return AuthAbort(500, "5.5.6", "Authentication exchange line is too long");
  auto decoded = smtp::Base64Decode(line, smtp::kSaslFieldMax * 3 + 2);
  if (!decoded) return AuthGarbage("Cannot decode response");
  switch (auth_.step) {
    case AuthState::Step::kPlainResponse: {
      auto p = smtp::ParsePlain(*decoded);
      smtp::WipeSecret(&*decoded);
      if (!p || !smtp::IsValidSaslUsername(p->authcid)) {
        if (p) smtp::WipeSecret(&p->passwd);
        return AuthGarbage("Invalid authentication message");
      }
      // An authorization identity other than oneself would be acting for someone else.
      if (!p->authzid.empty() && p->authzid != p->authcid) {
        smtp::WipeSecret(&p->passwd);
        return AuthAbort(535, "5.7.8", "Error: authentication failed: authorization identity refused");
      }
      AuthVerify(std::move(p->authcid), std::move(p->passwd));
      smtp::WipeSecret(&p->passwd);
      return;
    }
    case AuthState::Step::kLoginUser:
      if (!smtp::IsValidSaslUsername(*decoded)) return AuthGarbage("Invalid authentication message");
      auth_.login_user = std::move(*decoded);
      auth_.step = AuthState::Step::kLoginPass;
      return AuthChallenge(smtp::kLoginPassPrompt);
    case AuthState::Step::kLoginPass: {
      if (decoded->empty() || !smtp::IsValidSaslField(*decoded)) {
        smtp::WipeSecret(&*decoded);
        return AuthGarbage("Invalid authentication message");
      }
      std::string user = std::move(auth_.login_user);
      auth_.login_user.clear();
      AuthVerify(std::move(user), std::move(*decoded));
      smtp::WipeSecret(&*decoded);
      return;
    }
    default: return AuthAbort(503, "5.5.1", "Error: no authentication in progress");
  }
}

// A response that cannot be a login is a failed attempt too: otherwise a
// client could probe without end by sending garbage between real guesses.
void Session::AuthGarbage(std::string_view text) {
  ++auth_.failures;
  log::Warning("{}: SASL {} authentication failed: {}", Who(), auth_.mechanism, text);
  if (auth_.failures >= svc_->auth().settings().max_failures) return AuthTooManyFailures();
  AuthAbort(501, "5.5.2", text);
}

void Session::AuthTooManyFailures() {
  log::Info("too many failed authentication attempts from {}", Who());
  auth_.step = AuthState::Step::kNone;
  smtp::WipeSecret(&auth_.login_user);
  paused_ = false;
  Reply(421, "4.7.0", svc_->settings().myhostname + " Error: too many failed authentication attempts");
  CloseAfterFlush();
}

// The session holds still (paused_) until the check is done: pipelined
// commands behind AUTH wait for its answer, as RFC 4954 wants.
void Session::AuthVerify(std::string user, std::string password) {
  auth_.step = AuthState::Step::kVerifying;
  paused_ = true;
  std::weak_ptr<Session> weak = weak_from_this();
  svc_->auth().Verify(user, std::move(password), [weak, user](AuthOutcome o) {
    auto s = weak.lock();
    if (!s || s->finished_ || s->closing_) return;
    s->AuthDone(o, user);
  });
}

// reason: Dovecot's reason= of a failure (already printable), else empty.
void Session::AuthDone(AuthOutcome o, const std::string& user, std::string reason) {
  const AuthSettings& a = svc_->auth().settings();
  if (o == AuthOutcome::kOk) {
    auth_.username = user;
    ++ok_[size_t(smtp::Verb::kAuth)];
    AuthResume(235, "2.7.0", "Authentication successful");
    return;
  }
  if (o == AuthOutcome::kTempFail) return AuthResume(454, "4.7.0", "Temporary authentication failure");
  ++auth_.failures;
  log::Warning("{}: SASL {} authentication failed: {}{}", Who(), auth_.mechanism,
               reason.empty() ? "authentication failure" : reason, user.empty() ? "" : ", sasl_username=" + user);
  // Each failure waits before its answer: a password guesser gets few tries a second.
  timer_.Start(a.failure_delay_ms, 0, [this, max = a.max_failures, reason = std::move(reason)] {
    if (auth_.failures >= max) return AuthTooManyFailures();
    AuthResume(535, "5.7.8", reason.empty() ? "Error: authentication failed" : "Error: authentication failed: " + reason);
  });
}

// Answers the AUTH and picks up whatever the client pipelined meanwhile.
void Session::AuthResume(int code, std::string_view enh, std::string_view text) {
  auto self = shared_from_this();
  auth_.step = AuthState::Step::kNone;
  paused_ = false;
  Reply(code, enh, text);
  AfterWait();
}

// Postfix's ", sasl_method=PLAIN, sasl_username=user" after client=.
std::string Session::AuthLogSuffix() const {
  if (!auth_.authenticated()) return "";
  return ", sasl_method=" + auth_.mechanism + ", sasl_username=" + auth_.username;
}

// Postfix's line under "Received: from": only with smtpd_sasl_authenticated_header.
std::string Session::AuthReceivedInfo() const {
  if (!auth_.authenticated() || !svc_->auth().settings().authenticated_header) return "";
  return "\r\n\t(Authenticated sender: " + auth_.username + ")";
}

}  // namespace postern::smtpd
