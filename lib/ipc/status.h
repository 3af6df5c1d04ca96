// ipc/status.h — master<->worker status messages. A worker writes one frame
// per change ("I am busy" / "I am idle") with its pid and the configuration
// generation it was started under; master reads them from the service's
// status socket, which all workers of that service share. Each message is far
// below the socket's atomic-write size, so messages of several workers never
// interleave. End of file on the socket tells a worker that master is gone or
// has retired it (reload, stop).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace postern::ipc {

enum class WorkerState : uint8_t { kIdle = 'I', kBusy = 'B' };

struct StatusMessage {
  WorkerState state;
  uint32_t pid;
  uint32_t generation;
  bool operator==(const StatusMessage&) const = default;
};

constexpr size_t kStatusPayloadMax = 64;

// The framed bytes to write.
std::string EncodeStatus(const StatusMessage& m);
// One frame's payload; nullopt when malformed.
std::optional<StatusMessage> DecodeStatus(std::string_view payload);

// A worker's side of the status socket, which is non-blocking (libuv polls
// it, and all workers share its file description). A frame the socket cannot
// take now (EAGAIN: master is behind on a storm of them) is kept and written
// once the socket is writable, so master's count of available workers never
// goes stale; of kept frames not yet begun only the newest state matters.
class StatusSender {
 public:
  explicit StatusSender(int fd) : fd_(fd) {}
  // Writes m or keeps it; true when nothing is left to write.
  bool Send(const StatusMessage& m);
  // Writes what was kept; true when nothing is left. Call when writable.
  bool Flush();
  bool pending() const { return !started_.empty() || !next_.empty(); }
  // errno of the last failure other than EAGAIN (EPIPE: master is gone, and
  // what was kept is dropped), 0 if none; cleared by reading it.
  int TakeError();

 private:
  int fd_;
  std::string started_;  // the rest of a frame partly written: it must go first and whole
  std::string next_;     // the newest frame not begun
  int error_ = 0;
};

}  // namespace postern::ipc
