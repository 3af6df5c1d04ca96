// mime/lines.h — cuts a byte stream into line pieces for line-oriented
// filters without ever holding a whole long line: a line shorter than `hold`
// bytes arrives as one piece, the first piece of a longer one has at least
// `hold` bytes (enough to recognise a header name or a MIME boundary).
#pragma once

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

namespace postern::mime {

class LineSplitter {
 public:
  explicit LineSplitter(size_t hold = 4096) : hold_(hold) {}

  // fn(std::string_view text, bool eol) for each piece; text carries no line
  // end (CRLF or a bare LF); eol: the line ends after this piece.
  template <class F>
  void Feed(std::string_view in, F&& fn);
  // An unterminated last line ends here.
  template <class F>
  void Finish(F&& fn);

 private:
  std::string carry_;      // the start of a line that the next chunk continues
  bool mid_line_ = false;  // a piece of the current line went out already
  size_t hold_;
};

template <class F>
void LineSplitter::Feed(std::string_view in, F&& fn) {
  const char* p = in.data();
  const char* const end = p + in.size();
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
    if (nl == nullptr) {
      size_t n = end - p;
      if (carry_.size() + n < hold_ && !mid_line_) {
        carry_.append(p, n);
        return;
      }
      std::string_view piece(p, n);
      if (!carry_.empty()) {
        carry_.append(p, n);
        piece = carry_;
      }
      // A CR at the end may be the first half of the line's CRLF: keep it back.
      bool cr = piece.back() == '\r';
      if (cr) piece.remove_suffix(1);
      if (!piece.empty()) fn(piece, false);
      mid_line_ = mid_line_ || !piece.empty();
      carry_.clear();
      if (cr) carry_.push_back('\r');
      return;
    }
    std::string_view line(p, nl - p);
    if (!carry_.empty()) {
      carry_.append(p, nl - p);
      line = carry_;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    fn(line, true);
    carry_.clear();
    mid_line_ = false;
    p = nl + 1;
  }
}

template <class F>
void LineSplitter::Finish(F&& fn) {
  if (!carry_.empty() || mid_line_) fn(std::string_view(carry_), true);
  carry_.clear();
  mid_line_ = false;
}

}  // namespace postern::mime
