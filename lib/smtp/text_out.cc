// smtp/text_out.cc — line breaking and dot-stuffing; see text_out.h.
#include "postern/smtp/text_out.h"

#include <algorithm>

namespace postern::smtp {

void TextOut::Line(std::string_view text, bool eol, bool header, std::string* out) {
  while (!text.empty()) {
    if (limit_ != 0 && used_ >= limit_) {
      out->append("\r\n", 2);
      // A fold's space takes a place on the line; a limit of 1 leaves none.
      if (header && limit_ > 1) {
        out->push_back(' ');
        used_ = 1;
        line_start_ = false;
      } else {
        used_ = 0;
        line_start_ = true;
      }
    }
    if (line_start_) {
      line_start_ = false;
      if (text[0] == '.') out->push_back('.');
    }
    size_t n = limit_ == 0 ? text.size() : std::min(text.size(), limit_ - used_);
    out->append(text.data(), n);
    used_ += n;
    text.remove_prefix(n);
  }
  if (eol) {
    out->append("\r\n", 2);
    used_ = 0;
    line_start_ = true;
  }
}

void TextOut::Finish(std::string* out) {
  if (!line_start_ || used_ != 0) out->append("\r\n", 2);
  out->append(".\r\n", 3);
  used_ = 0;
  line_start_ = true;
}

}  // namespace postern::smtp
