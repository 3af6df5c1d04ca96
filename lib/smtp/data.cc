// smtp/data.cc — DATA decoding and dot-stuffing on whole spans: memchr finds
// line ends, and unchanged runs of input are copied with one append.
#include "postern/smtp/data.h"

#include <cstring>

namespace postern::smtp {

void DataDecoder::Emit(const char* p, size_t n, std::string* out) {
  if (n == 0) return;
  size_ += n;
  if (over_size_) return;
  if (opt_.size_limit != 0 && size_ > opt_.size_limit) {
    over_size_ = true;  // the caller will throw the message away; stop buffering it
    return;
  }
  out->append(p, n);
}

void DataDecoder::EndLine(size_t len) {
  if (len > opt_.line_limit) long_line_ = true;
}

// The hot loop: consumes whole lines while they need no change (CRLF ends,
// no leading dot), so a typical chunk is one memchr per line and one append.
const char* DataDecoder::ScanLines(const char* p, const char* end, const char** run, std::string* out) {
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
    if (nl == nullptr) {
      line_len_ += end - p;
      prev_cr_ = end[-1] == '\r';
      if (line_len_ > opt_.line_limit + 1) long_line_ = true;  // +1: a CR may be the terminator's
      return end;
    }
    bool crlf = nl > p ? nl[-1] == '\r' : prev_cr_;
    line_len_ += nl - p;
    p = nl + 1;
    if (crlf) {
      EndLine(line_len_ - 1);
      eligible_ = true;
      if (p < end && *p != '.') {  // the next line starts plainly: stay here
        line_len_ = 0;
        prev_cr_ = false;
        continue;
      }
      state_ = State::kLineStart;
      return p;
    }
    saw_bare_lf_ = true;
    if (opt_.bare_lf == BareLf::kNo) {
      ++line_len_;  // ordinary content; the line goes on
      prev_cr_ = false;
      if (line_len_ > opt_.line_limit + 1) long_line_ = true;
      continue;
    }
    Emit(*run, nl - *run, out);
    Emit("\r\n", 2, out);
    *run = p;
    EndLine(line_len_);
    state_ = State::kLineStart;
    eligible_ = false;  // "\n.\r\n" must never end the data
    return p;
  }
  return p;
}

size_t DataDecoder::Feed(std::string_view in, std::string* out) {
  const char* p = in.data();
  const char* const end = p + in.size();
  const char* run = p;  // first input byte not yet emitted
  while (p < end && state_ != State::kDone) {
    switch (state_) {
      case State::kLineStart:
        line_len_ = 0;
        prev_cr_ = false;
        state_ = State::kMid;
        if (*p == '.') {  // unstuff; only a line after a real CRLF may end the data
          Emit(run, p - run, out);
          run = ++p;
          line_len_ = 1;
          if (eligible_) state_ = State::kDot;
        }
        break;
      case State::kDot:
        if (*p == '\r') {  // withhold the CR until we know it is not ".\r\n"
          run = ++p;
          line_len_ = 2;
          state_ = State::kDotCr;
        } else {
          state_ = State::kMid;
        }
        break;
      case State::kDotCr:
        if (*p == '\n') {
          run = ++p;
          state_ = State::kDone;
        } else {
          Emit("\r", 1, out);
          prev_cr_ = true;
          state_ = State::kMid;
        }
        break;
      case State::kMid:
        p = ScanLines(p, end, &run, out);
        break;
      case State::kDone:
        break;
    }
  }
  Emit(run, p - run, out);
  return p - in.data();
}

void StrayFilter::Apply(std::string* buf, size_t from) {
  if (from > buf->size()) from = buf->size();
  if (held_cr_) {
    buf->insert(from, 1, '\r');
    held_cr_ = false;
    prev_cr_ = false;
  }
  char* p = buf->data();
  const size_t end = buf->size();
  for (size_t i = from; i < end; ++i) {
    char c = p[i];
    if (static_cast<unsigned char>(c) > '\r' || (c != '\0' && c != '\r' && c != '\n')) {
      prev_cr_ = false;
      continue;  // the common case: one comparison per byte
    }
    if (c == '\0') {
      p[i] = ' ';
      ++nuls_;
      prev_cr_ = false;
    } else if (!cr_lf_) {
      prev_cr_ = false;
    } else if (c == '\n') {
      if (!prev_cr_) p[i] = ' ', ++stray_;
      prev_cr_ = false;
    } else if (i + 1 == end) {
      held_cr_ = true;  // decided by the next byte
      buf->resize(end - 1);
      return;
    } else if (p[i + 1] == '\n') {
      prev_cr_ = true;
    } else {
      p[i] = ' ';
      ++stray_;
      prev_cr_ = false;
    }
  }
}

void StrayFilter::Finish(std::string* buf) {
  if (!held_cr_) return;
  held_cr_ = false;
  buf->push_back(' ');
  ++stray_;
}

void DotStuffer::Feed(std::string_view in, std::string* out) {
  const char* p = in.data();
  const char* const end = p + in.size();
  const char* run = p;
  while (p < end) {
    if (line_start_) {
      line_start_ = false;
      if (*p == '.') {
        out->append(run, p - run);
        out->push_back('.');  // the original dot follows in the next run
        run = p;
      }
    }
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
    if (nl == nullptr) {
      prev_cr_ = end[-1] == '\r';
      p = end;
      break;
    }
    bool crlf = nl > p ? nl[-1] == '\r' : prev_cr_;
    if (!crlf) {  // a bare LF goes out as CRLF: receivers may refuse bare LF
      out->append(run, nl - run);
      out->append("\r\n", 2);
      run = nl + 1;
    }
    p = nl + 1;
    line_start_ = true;
    prev_cr_ = false;
  }
  out->append(run, p - run);
}

void DotStuffer::Finish(std::string* out) {
  if (!line_start_) out->append("\r\n", 2);
  out->append(".\r\n", 3);
  Reset();
}

}  // namespace postern::smtp
