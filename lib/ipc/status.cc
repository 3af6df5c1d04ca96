// ipc/status.cc — status message encoding; see status.h.
#include "ipc/status.h"

#include "ipc/frame.h"

namespace postern::ipc {

std::string EncodeStatus(const StatusMessage& m) {
  std::string payload(1, char(m.state));
  PutU32(m.pid, &payload);
  PutU32(m.generation, &payload);
  return Frame(payload);
}

std::optional<StatusMessage> DecodeStatus(std::string_view payload) {
  if (payload.size() != 9) return std::nullopt;
  char kind = payload[0];
  if (kind != char(WorkerState::kIdle) && kind != char(WorkerState::kBusy)) return std::nullopt;
  payload.remove_prefix(1);
  StatusMessage m{WorkerState(kind), 0, 0};
  if (!GetU32(&payload, &m.pid) || !GetU32(&payload, &m.generation)) return std::nullopt;
  return m;
}

}  // namespace postern::ipc
