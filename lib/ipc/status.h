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

}  // namespace postern::ipc
