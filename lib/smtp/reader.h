// smtp/reader.h — splits pipelined SMTP command lines out of what a client
// sends, reporting bare LF and over-long lines, and hands the bytes after a
// DATA or BDAT command to the content decoder without copying them.
#pragma once

#include <string>
#include <string_view>

#include "postern/smtp/limits.h"

namespace postern::smtp {

class CommandReader {
 public:
  explicit CommandReader(size_t limit = kDefaultLineLengthLimit) : limit_(limit) {}

  struct Line {
    std::string_view text;  // without CR LF; valid until the next Feed or Consume
    bool bare_lf = false;   // ended in LF without CR (smtpd_forbid_bare_newline)
    bool too_long = false;  // longer than the limit: text is its first `limit` bytes, the
                            // rest is dropped, and bare_lf is false whatever the line ended in
  };

  void Feed(std::string_view bytes);
  // The next complete line, if any. A line over the limit is returned as
  // soon as the limit is passed; its remainder, up to LF, is then discarded.
  bool Next(Line* out);

  // Bytes received after the last line returned: the start of DATA content
  // or of a BDAT chunk. Consume(n) drops the first n of them once used.
  std::string_view Rest() const { return std::string_view(buf_).substr(pos_); }
  void Consume(size_t n) { pos_ += n < buf_.size() - pos_ ? n : buf_.size() - pos_; }
  size_t pending() const { return buf_.size() - pos_; }
  // Drops what was consumed; with nothing pending, a buffer grown by a large
  // pipelined batch or by content is given back, so an idle session stays small.
  void Trim();
  size_t capacity() const { return buf_.capacity(); }

 private:
  size_t limit_;
  std::string buf_;
  size_t pos_ = 0;
  bool discarding_ = false;  // inside the tail of an over-long line
};

}  // namespace postern::smtp
