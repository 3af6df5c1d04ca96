// ipc/frame.cc — length-prefixed frames; see frame.h.
#include "postern/ipc/frame.h"

#include "postern/log/log.h"

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

void PutU64(uint64_t v, std::string* out) {
  PutU32(uint32_t(v >> 32), out);
  PutU32(uint32_t(v), out);
}

void PutStr(std::string_view s, std::string* out) {
  PutU32(uint32_t(s.size()), out);
  out->append(s);
}

void PutU8(uint8_t v, std::string* out) { out->push_back(char(v)); }

bool GetU64(std::string_view* in, uint64_t* v) {
  uint32_t hi = 0, lo = 0;
  if (!GetU32(in, &hi) || !GetU32(in, &lo)) return false;
  *v = uint64_t(hi) << 32 | lo;
  return true;
}

bool GetI64(std::string_view* in, int64_t* v) {
  uint64_t u = 0;
  if (!GetU64(in, &u)) return false;
  *v = int64_t(u);
  return true;
}

bool GetStr(std::string_view* in, std::string* s) {
  uint32_t n = 0;
  if (!GetU32(in, &n) || n > in->size()) return false;
  s->assign(in->substr(0, n));
  in->remove_prefix(n);
  return true;
}

bool GetU8(std::string_view* in, uint8_t* v) {
  if (in->empty()) return false;
  *v = uint8_t((*in)[0]);
  in->remove_prefix(1);
  return true;
}

namespace {

// `trace ipc`: a frame's type is its first payload byte in every protocol.
void TraceFrame(const char* dir, std::string_view payload) {
  if (!log::Tracing("ipc")) return;
  unsigned char t = payload.empty() ? 0 : static_cast<unsigned char>(payload[0]);
  std::string type = t > 0x20 && t < 0x7f ? std::string(1, char(t)) : fmt::format("0x{:02x}", t);
  log::Trace("ipc", "{} frame type {}, {} bytes", dir, type, payload.size());
}

}  // namespace

void AppendFrame(std::string_view payload, std::string* out) {
  TraceFrame("sent", payload);
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
  TraceFrame("received", *payload);
  pos_ += 4 + len;
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  return Status::kFrame;
}

}  // namespace postern::ipc
