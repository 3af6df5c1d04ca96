// sendmail/message.h — turns a message read from stdin into what is
// submitted: header block fixed up (Bcc removed, From: "Full Name <user>"
// added when missing; cleanup adds Date: and Message-Id:), recipients taken from To/Cc/Bcc for -t, sendmail's lone-dot
// end of input unless -i, and the body streamed in pieces, never whole.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "postern/util/result.h"

namespace postern::sendmail {

struct MessageOptions {
  bool extract_recipients = false;  // -t
  bool dot_ends_input = true;       // false with -i / -oi
  std::string from_header;          // "Full Name <user@origin>" for a missing From:
  std::string origin;               // $myorigin, for bare local parts
};

// Reads lines from a file descriptor in large pieces (syscalls are dear).
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}
  // The next line with its newline (the last one may lack it, and a line
  // longer than 1 MiB comes in pieces); false at end.
  Result<bool> Next(std::string* line);
  // Nothing left to return: a line without newline was the last one.
  bool exhausted() const { return eof_ && pos_ >= buf_.size(); }

 private:
  int fd_;
  std::string buf_;
  size_t pos_ = 0;
  bool eof_ = false;
};

// Adds @origin to an address without a domain (Postfix's append_at_myorigin).
std::string Qualify(std::string_view addr, std::string_view origin);

// Reads the header block. Returns the headers to send (CRLF-terminated, with
// the blank separator line) and appends -t recipients to *rcpts. *body_start
// receives the first body line already read (may be empty) and *ended whether
// input ended inside the headers (EOF or a lone dot).
struct Header {
  std::string text;
  std::string first_body_line;
  bool ended = false;
};
Result<Header> ReadHeader(LineReader& in, const MessageOptions& opt, std::vector<std::string>* rcpts);

// Where content goes: CRLF line ends, dots not stuffed (the queue's form).
using ContentSink = std::function<Result<void>(std::string_view)>;

// Hands the fixed header block, then the rest of the input, to `sink` in
// pieces of about 256 KiB, each line ending in CRLF; input ends at EOF or,
// with dot_ends, at a lone dot.
Result<void> CopyContent(LineReader& in, const Header& h, bool dot_ends, const ContentSink& sink);

// Appends `line` to *out with its line end made CRLF (a piece of a longer
// line, `last` false and no newline, is appended as it is).
void AppendCrlf(std::string_view line, bool last, std::string* out);

// Is this line the lone dot that ends sendmail input?
bool IsLoneDot(std::string_view line);

}  // namespace postern::sendmail
