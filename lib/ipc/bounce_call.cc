// ipc/bounce_call.cc — CallOnce (frame.h) and CallBounce (bounce.h): one request
// frame out, one answer frame back, over a blocking unix socket with a deadline.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "postern/ipc/bounce.h"
#include "postern/ipc/call.h"
#include "postern/ipc/frame.h"
#include "postern/util/unix_socket.h"

namespace postern::ipc {

namespace {

using Clock = std::chrono::steady_clock;

// Waits for `events` on fd until the deadline; false on timeout or error.
bool Wait(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int n = poll(&p, 1, int(left));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

}  // namespace

Result<std::string> CallOnce(const std::string& socket_path, std::string_view request, size_t frame_max,
                             int timeout_ms) {
  auto connected = ConnectUnix(socket_path, false);
  if (!connected) return Err(connected.error());
  Fd fd = std::move(*connected);
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string out = Frame(request);
  for (size_t done = 0; done < out.size();) {
    if (!Wait(fd.get(), POLLOUT, deadline)) return Err("timeout writing to " + socket_path);
    ssize_t n = send(fd.get(), out.data() + done, out.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return Err("write " + socket_path + ": " + std::strerror(errno));
    if (n > 0) done += size_t(n);
  }
  FrameReader reader(frame_max);
  std::string payload;
  char buf[4096];
  for (;;) {
    FrameReader::Status st = reader.Next(&payload);
    if (st == FrameReader::Status::kTooLong) return Err("answer too long from " + socket_path);
    if (st == FrameReader::Status::kFrame) return payload;
    if (!Wait(fd.get(), POLLIN, deadline)) return Err("timeout waiting for " + socket_path);
    ssize_t n = recv(fd.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return Err("connection closed by " + socket_path);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return Err("read " + socket_path + ": " + std::strerror(errno));
    if (n > 0) reader.Feed(std::string_view(buf, size_t(n)));
  }
}

Result<BounceAnswer> CallBounce(const std::string& socket_path, const BounceRequest& req, int timeout_ms) {
  auto payload = CallOnce(socket_path, EncodeBounceRequest(req), kBounceFrameMax, timeout_ms);
  if (!payload) return Err(payload.error());
  auto answer = DecodeBounceAnswer(*payload);
  if (!answer) return Err("malformed answer from " + socket_path);
  return *answer;
}

}  // namespace postern::ipc
