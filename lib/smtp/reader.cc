// smtp/reader.cc — the command line splitter; see reader.h.
#include "postern/smtp/reader.h"

#include <cstring>

namespace postern::smtp {

void CommandReader::Feed(std::string_view bytes) {
  // Views handed out earlier die here, as documented; compacting now keeps
  // the buffer from growing under a long pipelined session.
  if (pos_ > 0) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(bytes);
}

void CommandReader::Trim() {
  constexpr size_t kKeep = 1024;
  if (pos_ == buf_.size() && buf_.capacity() > kKeep) {
    std::string().swap(buf_);
  } else if (pos_ > 0) {
    buf_.erase(0, pos_);
  }
  pos_ = 0;
}

bool CommandReader::Next(Line* out) {
  while (pos_ < buf_.size()) {
    const char* base = buf_.data() + pos_;
    size_t avail = buf_.size() - pos_;
    const char* nl = static_cast<const char*>(std::memchr(base, '\n', avail));
    if (discarding_) {
      if (nl == nullptr) {
        pos_ = buf_.size();  // drop the tail as it comes: memory stays bounded
        return false;
      }
      pos_ += nl - base + 1;
      discarding_ = false;
      continue;
    }
    if (nl == nullptr) {
      // +1: the CR of a line of exactly `limit` bytes may already be here.
      if (avail <= limit_ + 1) return false;
      *out = Line{std::string_view(base, limit_), false, true};
      pos_ = buf_.size();
      discarding_ = true;
      return true;
    }
    size_t len = nl - base;
    bool crlf = len > 0 && base[len - 1] == '\r';
    if (crlf) --len;
    pos_ += (nl - base) + 1;
    Line line{std::string_view(base, len), !crlf, false};
    if (len > limit_) {  // reported as if cut off before its end was seen
      line.text = line.text.substr(0, limit_);
      line.too_long = true;
      line.bare_lf = false;
    }
    *out = line;
    return true;
  }
  return false;
}

}  // namespace postern::smtp
