// smtpd/auth.cc — AUTH settings and password verification: the hash comes
// from smtpd_sasl_password_maps on the loop, crypt_r runs on libuv's thread
// pool. Neither passwords nor hashes are ever logged.
#include "smtpd/auth.h"

#include <crypt.h>

#include <cerrno>
#include <cstring>

#include "postern/log/log.h"
#include "postern/smtp/sasl.h"
#include "postern/util/strings.h"

namespace postern::smtpd {

namespace {

// What postern encrypt makes and what else libxcrypt does well; DES, MD5
// and other weak schemes are refused even if a table holds them.
constexpr std::string_view kStrongPrefixes[] = {"$y$", "$gy$", "$7$", "$2b$", "$2y$", "$2a$", "$6$", "$5$"};

bool IsStrongHash(std::string_view h) {
  for (std::string_view p : kStrongPrefixes)
    if (h.starts_with(p)) return true;
  return false;
}

bool SameBytes(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= uint8_t(a[i]) ^ uint8_t(b[i]);
  return diff == 0;
}

// One verification in flight; owns copies of everything the thread touches.
struct VerifyWork {
  uv_work_t req{};
  std::string password, hash;
  bool known = false;     // the user is in the table (hash is the user's)
  bool temp_fail = false;
  bool match = false;
  std::function<void(AuthOutcome)> done;
  ~VerifyWork() {
    smtp::WipeSecret(&password);
    smtp::WipeSecret(&hash);
  }
};

void RunVerify(uv_work_t* req) {
  auto* w = static_cast<VerifyWork*>(req->data);
  if (w->temp_fail) return;
  auto data = std::make_unique<crypt_data>();  // ~32 KiB: not on a pool thread's stack
  std::memset(data.get(), 0, sizeof *data);
  const char* out = crypt_r(w->password.c_str(), w->hash.c_str(), data.get());
  // libxcrypt answers a failure with a string starting with '*'.
  w->match = w->known && out && out[0] != '*' && SameBytes(out, w->hash);
  explicit_bzero(data.get(), sizeof *data);
}

void AfterVerify(uv_work_t* req, int) {
  std::unique_ptr<VerifyWork> w(static_cast<VerifyWork*>(req->data));
  AuthOutcome o = w->temp_fail ? AuthOutcome::kTempFail : w->match ? AuthOutcome::kOk : AuthOutcome::kFailed;
  auto done = std::move(w->done);
  w.reset();
  done(o);
}

// smtpd_sasl_path: inet:host:port, or a socket path; a relative one is
// under queue_directory, as Postfix's private/auth.
std::string DovecotEndpoint(const config::Config& cfg) {
  std::string path = cfg.Str("smtpd_sasl_path");
  if (StartsWith(path, "inet:") || StartsWith(path, "/")) return path;
  if (StartsWith(path, "unix:")) path = path.substr(5);
  return StartsWith(path, "/") ? path : cfg.Str("queue_directory") + "/" + path;
}

Result<std::string> MakeDummyHash() {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (!crypt_gensalt_rn("$y$", 0, nullptr, 0, salt, sizeof salt))
    return Err(std::string("cannot make a yescrypt salt: ") + std::strerror(errno));
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof *data);
  const char* h = crypt_r("postern-no-such-user", salt, data.get());
  if (!h || h[0] == '*') return Err("crypt_r cannot make a yescrypt hash");
  return std::string(h);
}

}  // namespace

Result<std::unique_ptr<Authenticator>> Authenticator::Load(const config::Config& cfg, uv_loop_t* loop) {
  AuthSettings s;
  for (auto [name, out] : {std::pair{"smtpd_sasl_auth_enable", &s.enable},
                           std::pair{"smtpd_tls_auth_only", &s.tls_auth_only},
                           std::pair{"smtpd_sasl_authenticated_header", &s.authenticated_header}}) {
    auto v = cfg.GetBool(name);
    if (!v) return Err(v.error());
    *out = *v;
  }
  auto mf = cfg.GetInt("smtpd_sasl_max_failures");
  if (!mf) return Err(mf.error());
  if (*mf < 1) return Err("smtpd_sasl_max_failures: must be at least 1");
  s.max_failures = *mf;
  auto delay = cfg.GetTime("smtpd_sasl_failure_delay");
  if (!delay) return Err(delay.error());
  s.failure_delay_ms = uint64_t(delay->count()) * 1000;
  for (auto [name, out] : {std::pair{"smtpd_sasl_security_options", &s.security_options},
                           std::pair{"smtpd_sasl_tls_security_options", &s.tls_security_options}}) {
    auto v = cfg.GetList(name);
    if (!v) return Err(v.error());
    *out = std::move(*v);
  }
  s.type = cfg.Str("smtpd_sasl_type");
  s.service = cfg.Str("smtpd_sasl_service");
  std::unique_ptr<Authenticator> a(new Authenticator(loop, std::move(s)));
  if (!a->s_.enable) return a;
  if (a->s_.type == "dovecot") {
    a->dovecot_ = std::make_unique<dovecot::Client>(loop, DovecotEndpoint(cfg));
    a->dovecot_->Connect();  // the mechanisms are known before the first EHLO, mostly
    return a;
  }
  if (a->s_.type != "postern") {
    log::Warning("smtpd_sasl_type = {} is not supported (postern, dovecot); AUTH is not offered (454 4.7.0)",
                 a->s_.type);
    a->broken_ = true;
    return a;
  }

  // Without a usable password table the worker still serves mail: AUTH is
  // not offered and, when a client tries it anyway, answers 454 4.7.0.
  auto refs = cfg.GetTables("smtpd_sasl_password_maps");
  Result<table::TableList> maps = Err("");
  if (!refs) maps = Err(refs.error());
  else if (refs->empty()) maps = Err(std::string("smtpd_sasl_auth_enable = yes needs smtpd_sasl_password_maps (user -> crypt hash)"));
  else if (maps = table::TableList::Open(*refs, {.secret = true}); !maps) maps = Err("smtpd_sasl_password_maps: " + maps.error());
  if (!maps) {
    log::Warning("{}; AUTH is not offered (454 4.7.0)", maps.error());
    a->broken_ = true;
    return a;
  }
  a->passwords_ = std::move(*maps);
  auto dummy = MakeDummyHash();
  if (!dummy) return Err(dummy.error());
  a->dummy_hash_ = std::move(*dummy);
  return a;
}

Authenticator::~Authenticator() { smtp::WipeSecret(&dummy_hash_); }

std::vector<std::string> Authenticator::Mechanisms(bool tls) const {
  const auto& options = tls ? s_.tls_security_options : s_.security_options;
  if (!dovecot_) {
    dovecot::Mechanism plain{.name = "PLAIN", .plaintext = true}, login{.name = "LOGIN", .plaintext = true};
    return dovecot::Allowed({plain, login}, options);
  }
  if (!dovecot_->mechanisms()) return {};
  return dovecot::Allowed(*dovecot_->mechanisms(), options);
}

void Authenticator::Verify(const std::string& user, std::string password, std::function<void(AuthOutcome)> done) {
  auto w = std::make_unique<VerifyWork>();
  w->password = std::move(password);
  w->done = std::move(done);
  w->hash = dummy_hash_;
  auto r = passwords_.Lookup(user);
  if (!r) {
    log::Warning("smtpd_sasl_password_maps: {}", r.error());
    w->temp_fail = true;
  } else if (r->has_value()) {
    std::string h(Trim(**r));
    if (IsStrongHash(h)) {
      w->hash = std::move(h);
      w->known = true;
    } else {
      // Named without the hash: it may be a weak scheme or a plaintext secret.
      log::Warning("smtpd_sasl_password_maps: the entry of user {} is not a yescrypt, bcrypt or SHA-crypt "
                   "hash; make one with \"postern encrypt\"",
                   user);
    }
  }
  uv_work_t* req = &w->req;
  req->data = w.get();
  int rc = uv_queue_work(loop_, req, RunVerify, AfterVerify);
  if (rc != 0) {
    // Cannot happen with valid arguments; answer as a lookup failure would.
    log::Warning("uv_queue_work: {}", uv_strerror(rc));
    w->done(AuthOutcome::kTempFail);
    return;
  }
  w.release();  // AfterVerify owns it now
}

}  // namespace postern::smtpd
