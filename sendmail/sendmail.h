// sendmail/sendmail.h — what the sendmail command was asked to do (its
// options, parsed as Postfix's sendmail parses them) and the ways it does
// it: submit (socket or maildrop), relay an SMTP session, exit statuses.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postern/config/maincf.h"
#include "postern/smtp/esmtp.h"

namespace postern::sendmail {

// sendmail's exit statuses (sysexits.h).
inline constexpr int kExOk = 0;
inline constexpr int kExUsage = 64;        // EX_USAGE: command line error
inline constexpr int kExDataErr = 65;      // EX_DATAERR: bad input
inline constexpr int kExNoUser = 67;       // EX_NOUSER: recipient refused
inline constexpr int kExUnavailable = 69;  // EX_UNAVAILABLE: refused for good
inline constexpr int kExSoftware = 70;     // EX_SOFTWARE: internal error
inline constexpr int kExOsErr = 71;        // EX_OSERR: system error (exec, fork)
inline constexpr int kExTempFail = 75;     // EX_TEMPFAIL: try again later
inline constexpr int kExConfig = 78;       // EX_CONFIG: configuration error

enum class Mode { kMail, kSmtp, kList, kAliases, kDaemon, kFlush, kVerify };

struct Args {
  Mode mode = Mode::kMail;
  bool extract = false;   // -t
  bool dot_ends = true;   // cleared by -i / -oi
  bool verbose = false;   // -v
  std::optional<std::string> sender, full_name, config_dir;
  unsigned notify = 0;                  // -N, smtp::NotifyFlags
  smtp::Ret ret = smtp::Ret::kUnspecified;  // -R
  std::optional<std::string> envid;     // -V
  smtp::Body body = smtp::Body::kUnspecified;  // -B
  std::vector<std::string> rcpts;
};

// The person running the command.
struct Identity {
  uid_t uid = 0;
  std::string user, gecos;
};
Identity WhoAmI();

// Terminates with `status` after "sendmail: fatal: text" on stderr.
[[noreturn]] void Die(int status, std::string_view text);

// Mail mode: reads the message from stdin and submits it (deliver.cc).
int SendMail(const config::Config& cfg, const Args& a);
// -bs: relays an SMTP session on stdin/stdout to the submit socket.
int SmtpSession(const config::Config& cfg, const Args& a);

}  // namespace postern::sendmail
