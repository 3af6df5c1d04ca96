// smtpd/dovecot_proto.h — Dovecot's authentication protocol (client side,
// version 1.2) as Postfix's smtpd speaks it: the handshake, AUTH/CONT
// requests and OK/FAIL/CONT replies; pure functions, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::smtpd::dovecot {

// One MECH line: a mechanism and the properties Dovecot reports for it.
struct Mechanism {
  std::string name;  // upper-cased
  bool anonymous = false, plaintext = false, dictionary = false, active = false;
  bool forward_secrecy = false, mutual_auth = false;
};

// Collects the server's greeting: VERSION, MECH..., SPID, CUID, COOKIE, DONE.
class Handshake {
 public:
  enum class State { kMore, kDone, kBad };
  State Feed(std::string_view line);
  const std::vector<Mechanism>& mechanisms() const { return mechs_; }
  const std::string& error() const { return error_; }

 private:
  State Bad(std::string why);
  std::vector<Mechanism> mechs_;
  bool version_ = false;
  std::string error_;
};

// What the client says first: "VERSION\t1\t2\nCPID\t<pid>\n".
std::string ClientHello(long pid);

struct AuthRequest {
  unsigned id = 0;
  std::string mechanism;
  std::string service = "smtp";
  std::optional<std::string> initial;  // base64 as the client sent it; "" for "="
  bool secured = false;                // the SMTP session is under TLS
  std::string local_addr, remote_addr;
  uint16_t local_port = 0, remote_port = 0;
};
std::string EncodeAuth(const AuthRequest& r);
std::string EncodeCont(unsigned id, std::string_view response);

struct Reply {
  enum class Kind { kOk, kFail, kCont };
  Kind kind = Kind::kFail;
  unsigned id = 0;
  std::string data;    // CONT: the server's challenge, base64
  std::string user;    // user= (OK, sometimes FAIL)
  std::string reason;  // FAIL: reason=
  bool temp = false;   // FAIL: temp (try again later)
};
// A reply line (without LF); nullopt for anything else.
std::optional<Reply> ParseReply(std::string_view line);

// Dovecot's tab escaping: \001 followed by 1, t, r or n.
std::string Unescape(std::string_view s);

// The mechanisms smtpd_sasl_security_options (or the TLS variant) allow:
// noanonymous, noplaintext, noactive, nodictionary exclude, mutual_auth and
// forward_secrecy require. Unknown words are ignored (postern check names them).
std::vector<std::string> Allowed(const std::vector<Mechanism>& mechs, const std::vector<std::string>& options);

}  // namespace postern::smtpd::dovecot
