// cleanup/header_edit.cc — the whole-header stage; see header_edit.h.
#include "postern/cleanup/header_edit.h"

#include <string_view>

namespace postern::cleanup {

namespace {

// "Name:" (obsolete "Name :" too) — what HeaderFilter also reads as a header.
bool HeaderStart(std::string_view line) {
  size_t colon = line.find(':');
  if (colon == 0 || colon == std::string_view::npos) return false;
  std::string_view name = line.substr(0, colon);
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
  if (name.empty()) return false;
  for (unsigned char c : name) {
    if (c < 33 || c > 126) return false;
  }
  return true;
}

}  // namespace

void HeaderEditor::Emit(std::string* buf) {
  if (cur_.empty()) return;
  fn_(&cur_);
  buf->append(cur_);
  cur_.clear();
}

void HeaderEditor::Line(std::string_view line, std::string* buf) {
  if ((line[0] == ' ' || line[0] == '\t') && !cur_.empty()) {
    cur_.append(line);
    return;
  }
  Emit(buf);
  if (HeaderStart(line)) {
    cur_.assign(line);
  } else {
    body_ = true;  // the empty line, or a body without one
    buf->append(line);
  }
}

void HeaderEditor::Apply(std::string* buf, size_t from) {
  if (body_ || !fn_) return;
  if (from > buf->size()) from = buf->size();
  std::string tail = std::move(partial_);
  partial_.clear();
  tail.append(*buf, from, std::string::npos);
  buf->resize(from);
  size_t i = 0;
  while (i < tail.size() && !body_) {
    size_t nl = tail.find('\n', i);
    if (nl == std::string::npos) break;
    Line(std::string_view(tail).substr(i, nl + 1 - i), buf);
    i = nl + 1;
  }
  if (body_) {
    buf->append(tail, i, std::string::npos);
    return;
  }
  partial_.assign(tail, i, std::string::npos);
  if (partial_.size() > max_line_) {  // no header is this long: body text
    Emit(buf);
    body_ = true;
    buf->append(partial_);
    partial_.clear();
  }
}

void HeaderEditor::Finish(std::string* buf) {
  if (body_ || !fn_) return;
  if (!partial_.empty()) Line(partial_, buf);
  partial_.clear();
  Emit(buf);
  body_ = true;
}

}  // namespace postern::cleanup
