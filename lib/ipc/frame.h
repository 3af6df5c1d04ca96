// ipc/frame.h — the one framing of postern's internal protocols: a 4-byte
// big-endian length, then that many payload bytes. Readers enforce a limit so
// a broken peer cannot make a process buffer without bound.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace postern::ipc {

// Appends one frame holding `payload` to *out.
void AppendFrame(std::string_view payload, std::string* out);
std::string Frame(std::string_view payload);

// Reassembles frames from a byte stream delivered in arbitrary pieces.
class FrameReader {
 public:
  explicit FrameReader(size_t max_payload) : max_(max_payload) {}
  void Feed(std::string_view data) { buf_.append(data); }
  enum class Status { kNeedMore, kFrame, kTooLong };
  // kFrame: *payload holds the next frame. kTooLong: the stream is unusable.
  Status Next(std::string* payload);
  // Bytes fed and not yet returned in a frame (part of the next one).
  size_t pending() const { return buf_.size() - pos_; }

 private:
  size_t max_;
  std::string buf_;
  size_t pos_ = 0;
};

// Payload fields: big-endian integers and u32-length-prefixed strings. Each
// Get consumes its field and returns false on a short payload.
void PutU8(uint8_t v, std::string* out);
void PutU32(uint32_t v, std::string* out);
void PutU64(uint64_t v, std::string* out);
void PutStr(std::string_view s, std::string* out);
bool GetU8(std::string_view* in, uint8_t* v);
bool GetU32(std::string_view* in, uint32_t* v);
bool GetU64(std::string_view* in, uint64_t* v);
bool GetI64(std::string_view* in, int64_t* v);
bool GetStr(std::string_view* in, std::string* s);

}  // namespace postern::ipc
