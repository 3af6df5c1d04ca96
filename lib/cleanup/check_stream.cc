// cleanup/check_stream.cc — header assembly and body-line inspection between
// the MIME walker and the output; see check_stream.h.
#include "postern/cleanup/check_stream.h"

namespace postern::cleanup {

void CheckStream::Line(std::string_view text, bool eol, bool header) {
  bool start = line_start_;
  line_start_ = eol;
  if (header) {
    bool continuation = !start || (!text.empty() && (text[0] == ' ' || text[0] == '\t'));
    if (!continuation || !holding_) {
      EndHeader();
      holding_ = true;
      block_ = walker_->block();
    } else if (start) {
      held_ += '\n';
    }
    // Beyond header_size_limit a header is cut, as Postfix's cleanup does.
    size_t limit = checks_->tables().header_limit;
    if (held_.size() < limit) held_.append(text.substr(0, limit - held_.size()));
    offset_ = 0;  // a body segment starts after this header block
    return;
  }
  EndHeader();
  if (start) {
    Edit e = checks_->Body(text, offset_);
    for (const std::string& b : e.before) out_->Line(b, true, false);
    if (e.replacement) out_->Line(*e.replacement, true, false);
    dropping_ = !e.keep;
  }
  if (!dropping_) out_->Line(text, eol, false);
  offset_ += text.size() + (eol ? 2 : 0);
}

void CheckStream::EndHeader() {
  if (!holding_) return;
  holding_ = false;
  std::string h = std::move(held_);
  held_.clear();
  Edit e = checks_->Header(ClassOf(block_, h), h);
  for (const std::string& b : e.before) Emit(b, true);
  if (e.keep) Emit(h, true);
  else if (e.replacement) Emit(*e.replacement, true);
}

// A header out as lines: its "\n" separates the folded lines.
void CheckStream::Emit(const std::string& text, bool header) {
  size_t pos = 0;
  for (;;) {
    size_t nl = text.find('\n', pos);
    out_->Line(std::string_view(text).substr(pos, nl == std::string::npos ? std::string::npos : nl - pos), true,
               header);
    if (nl == std::string::npos) return;
    pos = nl + 1;
  }
}

void CheckStream::Flush() { EndHeader(); }

void CheckFilter::Apply(std::string* buf, size_t from) {
  std::string in = buf->substr(from);
  buf->resize(from);
  out_ = buf;
  split_.Feed(in, [this](std::string_view piece, bool eol) { walker_.Feed(piece, eol); });
}

void CheckFilter::Finish(std::string* buf, size_t from) {
  Apply(buf, from);
  out_ = buf;
  split_.Finish([this](std::string_view piece, bool eol) { walker_.Feed(piece, eol); });
  stream_.Flush();
}

void CheckFilter::Line(std::string_view text, bool eol, bool) {
  out_->append(text);
  if (eol) out_->append("\r\n");
}

}  // namespace postern::cleanup
