// ipc/status.cc — status message encoding; see status.h.
#include "postern/ipc/status.h"

#include <sys/socket.h>

#include <cerrno>

#include "postern/ipc/frame.h"

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

bool StatusSender::Send(const StatusMessage& m) {
  next_ = EncodeStatus(m);
  return Flush();
}

bool StatusSender::Flush() {
  while (pending()) {
    bool fresh = started_.empty();
    if (fresh) started_.swap(next_);
    ssize_t n = send(fd_, started_.data(), started_.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (fresh) started_.swap(next_);  // not begun: a newer state may still replace it
      return false;
    }
    if (n < 0) {
      error_ = errno;
      started_.clear();
      next_.clear();
      return true;
    }
    started_.erase(0, size_t(n));
  }
  return true;
}

int StatusSender::TakeError() {
  int e = error_;
  error_ = 0;
  return e;
}

}  // namespace postern::ipc
