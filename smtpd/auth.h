// smtpd/auth.h — SMTP AUTH on the server side: the settings, the password
// check (smtpd_sasl_type = postern: a table lookup on the loop, crypt_r on
// libuv's thread pool so that a slow hash never stalls other sessions; or
// dovecot: Dovecot's auth server, see dovecot_client.h), and one session's AUTH state.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "postern/config/maincf.h"
#include "postern/smtp/address.h"
#include "postern/table/table.h"
#include "postern/util/result.h"
#include "smtpd/dovecot_client.h"

namespace postern::smtpd {

struct AuthSettings {
  bool enable = false;               // smtpd_sasl_auth_enable
  bool tls_auth_only = true;         // smtpd_tls_auth_only: no AUTH before TLS
  bool authenticated_header = false; // smtpd_sasl_authenticated_header
  std::string type = "postern";      // smtpd_sasl_type: postern or dovecot
  std::string service = "smtp";      // smtpd_sasl_service (Dovecot's service=)
  std::vector<std::string> security_options, tls_security_options;  // smtpd_sasl_[tls_]security_options
  long long max_failures = 3;        // smtpd_sasl_max_failures: 421 after this many
  uint64_t failure_delay_ms = 1000;  // smtpd_sasl_failure_delay: before each 535
};

// How a password check ended.
enum class AuthOutcome { kOk, kFailed, kTempFail };

class Authenticator {
 public:
  static Result<std::unique_ptr<Authenticator>> Load(const config::Config& cfg, uv_loop_t* loop);
  Authenticator(const Authenticator&) = delete;
  ~Authenticator();

  const AuthSettings& settings() const { return s_; }
  // AUTH is enabled but smtpd_sasl_password_maps is missing or does not
  // open, or smtpd_sasl_type is neither postern nor dovecot.
  bool broken() const { return broken_; }
  // smtpd_sasl_type = dovecot: the connection to Dovecot's auth server.
  dovecot::Client* dovecot() { return dovecot_.get(); }
  // The mechanisms to offer now: PLAIN and LOGIN, or what Dovecot reported
  // (none before its first handshake), less those that
  // smtpd_sasl_security_options (smtpd_sasl_tls_security_options under TLS) exclude.
  std::vector<std::string> Mechanisms(bool tls) const;
  // Checks user's password against smtpd_sasl_password_maps. The lookup runs
  // now, the hash on the thread pool; done runs later on the loop, always.
  void Verify(const std::string& user, std::string password, std::function<void(AuthOutcome)> done);

 private:
  Authenticator(uv_loop_t* loop, AuthSettings s) : loop_(loop), s_(std::move(s)) {}
  uv_loop_t* loop_;
  AuthSettings s_;
  table::TableList passwords_;
  std::unique_ptr<dovecot::Client> dovecot_;
  // Unknown users are checked against this hash too, so that the answer
  // takes as long as for a known user with a wrong password.
  std::string dummy_hash_;
  bool broken_ = false;
};

// One session's AUTH exchange and its result.
struct AuthState {
  // kDovecotResponse: Dovecot sent a challenge, the client's answer goes to it.
  enum class Step { kNone, kPlainResponse, kLoginUser, kLoginPass, kVerifying, kDovecotResponse };
  Step step = Step::kNone;
  std::string mechanism;   // of the exchange in progress, then of the success
  std::string login_user;  // LOGIN: the name given before the password
  unsigned dovecot_id = 0; // the exchange's id at Dovecot's auth server
  std::string username;    // set once authenticated
  long long failures = 0;
  bool authenticated() const { return !username.empty(); }
  bool in_exchange() const { return step != Step::kNone; }
  // After STARTTLS (RFC 3207 §4.2): no login, no failures, no exchange.
  void Reset() { *this = AuthState{}; }
};

// smtpd_sender_login_maps and the reject_*sender_login_mismatch restrictions.
class SenderLogin {
 public:
  static Result<SenderLogin> Load(const config::Config& cfg);
  static bool IsRestriction(std::string_view name);
  // Who owns a sender address: any login at all, and the given one (the
  // SASL user name; empty when not authenticated). An error: the table failed.
  struct Owners {
    bool owned = false;
    bool owned_by_login = false;
  };
  Result<Owners> Lookup(const smtp::Address& sender, std::string_view login);
  bool configured() const { return !maps_->empty(); }

 private:
  std::shared_ptr<table::TableList> maps_ = std::make_shared<table::TableList>();
};

struct Verdict;
struct Facts;
// reject_sender_login_mismatch and its authenticated_/unauthenticated_ forms,
// with Postfix's 553 5.7.1 texts; a table failure answers 451 4.3.0.
Verdict CheckSenderLogin(SenderLogin& maps, std::string_view restriction, const Facts& f);

}  // namespace postern::smtpd
