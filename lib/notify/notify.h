// notify/notify.h — postmaster notices about problems (Postfix's
// notify_classes): the class names, the session transcript an SMTP program
// keeps for them, the text of a transcript notice (smtpd_chat_notify) and a
// limit on how many a process sends. Pure code; enqueueing is the caller's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "postern/util/result.h"

namespace postern::notify {

// notify_classes bits, Postfix's names.
enum NotifyClass : unsigned {
  kClassBounce = 1u << 0,
  kClass2Bounce = 1u << 1,
  kClassDelay = 1u << 2,
  kClassResource = 1u << 3,
  kClassSoftware = 1u << 4,
  kClassPolicy = 1u << 5,
  kClassProtocol = 1u << 6,
  kClassData = 1u << 7,
};
Result<unsigned> ParseNotifyClasses(const std::vector<std::string>& names);

// RFC 5322 date in local time with English names: "Mon, 7 Dec 2026 08:00:00 +0000 (UTC)".
std::string MailDate(int64_t t);

// Postfix's smtpd history: "In:  command" and "Out: reply" lines. Past
// `max_lines` or `max_bytes` the rest is left out (said once, at the end):
// a client must not grow a session's memory by talking.
class Transcript {
 public:
  explicit Transcript(size_t max_lines = 1000, size_t max_bytes = 64 * 1024)
      : max_lines_(max_lines), max_bytes_(max_bytes) {}
  void Add(std::string_view prefix, std::string_view line);
  // Each line of CRLF-separated `replies` as an "Out: " line.
  void AddReplies(std::string_view replies);
  size_t lines() const { return lines_; }
  bool empty() const { return lines_ == 0; }
  // The lines, '\n'-terminated (a final note when some were left out).
  std::string Text() const;
  void Clear();

 private:
  size_t max_lines_, max_bytes_;
  size_t lines_ = 0;
  bool truncated_ = false;
  std::string text_;
};

// What a transcript notice says (smtpd_chat_notify).
struct TranscriptNotice {
  std::string mail_name;   // "postern": "postern SMTP server: errors from ..."
  std::string role = "SMTP server";
  std::string peer;        // client[addr]
  std::string from;        // MAILER-DAEMON@$myorigin
  std::string to;          // error_notice_recipient, qualified
  std::string message_id;  // without the angle brackets
  int64_t now = 0;
  std::string transcript;  // Transcript::Text()
  std::string reason;      // "lost connection", "timeout"; "" when none
};

// The message as stored in the queue: CRLF line ends; transcript lines made
// printable ('?') and wrapped at 78 columns as Postfix's line_wrap does.
std::string ComposeTranscriptNotice(const TranscriptNotice& n);

// At most `burst` notices per `window_s` seconds in one process: a flood of
// bad clients must not become a flood of mail to the postmaster.
class Limiter {
 public:
  Limiter(unsigned burst, int64_t window_s) : burst_(burst), window_(window_s) {}
  // True when one more may go now; counts what was refused.
  bool Allow(int64_t now);
  uint64_t refused() const { return refused_; }

 private:
  unsigned burst_;
  int64_t window_;
  int64_t start_ = 0;
  unsigned sent_ = 0;
  uint64_t refused_ = 0;
};

}  // namespace postern::notify
