// smtp/reply.h — SMTP replies: the Reply type, wire formatting into a caller's
// buffer (so pipelined replies leave in one write), a streaming reply parser
// for the client side, and EHLO keyword extraction.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "postern/smtp/limits.h"

namespace postern::smtp {

struct Reply {
  int code = 0;              // 200..599
  std::string enhanced;      // "2.0.0"; empty when the peer sent none
  std::vector<std::string> lines;  // text of each line, without code or enhanced status

  std::string_view text() const { return lines.empty() ? std::string_view() : lines.back(); }
};

// Appends one reply to *out: "250-ENH line\r\n" for all but the last line,
// "250 ENH line\r\n" for the last. CR, LF and NUL inside text become spaces
// so that text taken from a client can never inject a reply line.
void AppendReply(std::string* out, const Reply& r);
// Single-line shortcut without building a Reply (the common case in smtpd).
void AppendReply(std::string* out, int code, std::string_view enhanced, std::string_view text);

// "x.y.z" with x in 2,4,5, y and z 1-3 digits (RFC 3463)?
bool IsEnhancedStatus(std::string_view s);

// Streaming parser for replies from a server. Feed() bytes as they arrive,
// then call Next() until it stops returning kReply. After kError the stream
// is unusable (the caller closes the connection); error() says why.
class ReplyParser {
 public:
  enum class Status { kNeedMore, kReply, kError };

  explicit ReplyParser(size_t max_line = kDefaultLineLengthLimit, size_t max_lines = 1000)
      : max_line_(max_line), max_lines_(max_lines) {}

  void Feed(std::string_view bytes);
  Status Next(Reply* out);
  const std::string& error() const { return error_; }
  // Bytes received but not yet part of a complete reply.
  size_t buffered() const { return buf_.size() - pos_; }

 private:
  Status Fail(std::string why);
  bool AddLine(std::string_view line, bool* last);

  size_t max_line_;
  size_t max_lines_;
  std::string buf_;
  size_t pos_ = 0;  // start of unparsed bytes in buf_
  Reply cur_;       // lines gathered so far of the reply in progress
  bool failed_ = false;
  std::string error_;
};

// What an EHLO reply offers (the first line is the greeting, then keywords).
struct EhloInfo {
  bool pipelining = false, eightbitmime = false, smtputf8 = false, dsn = false,
       chunking = false, starttls = false, enhancedstatuscodes = false, binarymime = false;
  bool size_offered = false;
  uint64_t size_limit = 0;           // SIZE's argument; 0 = no stated limit
  std::vector<std::string> auth;     // AUTH mechanisms, upper-cased
};
EhloInfo ParseEhlo(const Reply& r);

}  // namespace postern::smtp
