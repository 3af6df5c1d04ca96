// ipc/frame.cc — length-prefixed frames; see frame.h.
#include "ipc/frame.h"

namespace postern::ipc {

void PutU32(uint32_t v, std::string* out) {
  char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  out->append(b, 4);
}

bool GetU32(std::string_view* in, uint32_t* v) {
  if (in->size() < 4) return false;
  auto u = [&](size_t i) { return uint32_t(uint8_t((*in)[i])); };
  *v = u(0) << 24 | u(1) << 16 | u(2) << 8 | u(3);
  in->remove_prefix(4);
  return true;
}

void AppendFrame(std::string_view payload, std::string* out) {
  PutU32(uint32_t(payload.size()), out);
  out->append(payload);
}

std::string Frame(std::string_view payload) {
  std::string out;
  AppendFrame(payload, &out);
  return out;
}

FrameReader::Status FrameReader::Next(std::string* payload) {
  std::string_view rest(buf_.data() + pos_, buf_.size() - pos_);
  uint32_t len = 0;
  if (!GetU32(&rest, &len)) return Status::kNeedMore;
  if (len > max_) return Status::kTooLong;
  if (rest.size() < len) {
    if (pos_ > 0) {  // keep the partial frame at the front
      buf_.erase(0, pos_);
      pos_ = 0;
    }
    return Status::kNeedMore;
  }
  payload->assign(rest.substr(0, len));
  pos_ += 4 + len;
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  return Status::kFrame;
}

}  // namespace postern::ipc
