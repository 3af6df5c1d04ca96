// smtp/text_out.h — message text onto the DATA stream (Postfix's
// smtp_text_out): CRLF line ends, dot-stuffing, and lines longer than the
// limit broken: a header line is folded with CRLF SPACE, a body line broken
// with CRLF (a piece that then starts with '.' is stuffed like any line).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace postern::smtp {

class TextOut {
 public:
  // limit: most octets of a line without its CRLF and a stuffed dot; 0 = none.
  explicit TextOut(size_t limit) : limit_(limit) {}

  // One piece of a line (no line end in text); eol ends the line.
  void Line(std::string_view text, bool eol, bool header, std::string* out);
  // Ends an unfinished line, then the data with ".\r\n".
  void Finish(std::string* out);

 private:
  size_t limit_;
  size_t used_ = 0;         // octets on the current output line
  bool line_start_ = true;  // the next octet starts an output line
};

}  // namespace postern::smtp
