// ipc/call.h — requests to a worker's unix service ($queue_directory/private/NAME):
// connect without blocking, send one request frame, read answer frames until the last.
// The delivery protocol (delivery.h: results, then an end frame) and the bounce
// protocol (bounce.h: one answer) both ride on it. A connection whose peer keeps
// it (the delivery protocol's "keep" end) carries the next request too (qmgr's pool).
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "postern/event/event.h"
#include "postern/ipc/bounce.h"
#include "postern/ipc/delivery.h"
#include "postern/ipc/frame.h"
#include "postern/util/result.h"

namespace postern::ipc {

class Call {
 public:
  enum class Failure {
    kUnreachable,  // no such socket, or nobody accepts on it
    kBusy,         // the listen backlog is full: try again shortly
  };
  enum class End {
    kDone,     // the last answer frame arrived
    kCrashed,  // closed, spoke garbage or timed out before its last frame
    // A reused connection that the peer had closed before it read the request:
    // the write failed (EPIPE), or the peer closed with the request unread
    // (ECONNRESET: the kernel says so only when unread data was left). The
    // request never reached the agent and may be sent again on a fresh connection.
    kNotTaken,
  };
  // kLastKeep: the last frame, and the peer waits for another request here.
  enum class Next { kMore, kLast, kLastKeep, kBad };
  // One answer frame's payload; kBad sets *why (the call ends as crashed).
  using OnFrame = std::function<Next(std::string_view payload, std::string* why)>;
  using OnEnd = std::function<void(End, const std::string& why)>;

  // Connects without blocking. nullptr with *failure and *why set when it cannot.
  static std::unique_ptr<Call> Connect(uv_loop_t* loop, const std::string& path, size_t frame_max, Failure* failure,
                                       std::string* why);
  // Sends the request frame; on_frame per answer frame, then on_end exactly
  // once (timeout_ms 0: no time limit). The owner may destroy the call only
  // after on_end (from inside it too), not from inside on_frame.
  // Again after an on_end(kDone) while reusable().
  void Send(std::string payload, OnFrame on_frame, OnEnd on_end, uint64_t timeout_ms = 0);
  // After on_end(kDone): the peer keeps the connection for another request.
  bool reusable() const { return ended_ && keep_ && reading_ && !broken_; }
  // Leaves a reusable call idle: on_gone once, when the peer closes it or
  // says anything unasked. The owner drops the call then (inside on_gone too).
  void Park(std::function<void()> on_gone);

 private:
  Call(uv_loop_t* loop, size_t frame_max) : reader_(frame_max), timer_(loop) {}
  void OnData(std::string_view data);
  void OnReadEnd(int status);
  void OnWritten(uint64_t send, int status);
  void Gone();
  void Finish(End how, const std::string& why);

  std::unique_ptr<event::Stream> stream_;
  FrameReader reader_;
  event::Timer timer_;
  OnFrame on_frame_;
  OnEnd on_end_;
  std::function<void()> on_gone_;  // parked
  uint64_t sends_ = 0;     // requests sent on this connection
  bool ended_ = false;     // the current request has ended
  bool keep_ = false;      // ... and the peer keeps the connection
  bool reading_ = false;   // reads stay on across requests (no epoll change per request)
  bool broken_ = false;    // the peer spoke out of turn or closed: no more requests
  bool answered_ = false;  // a frame of the current request's answer arrived
  bool writing_ = false;   // the current request's frame is not yet written
  bool closed_early_ = false;  // end of file before any answer, while writing_
};

// The delivery protocol on a call: on_result per recipient's result and
// on_connection per connection fact (ignored when empty), then on_end (as
// crashed when timeout_ms, 0 = none, passes first).
void SendDelivery(Call& call, const DeliveryRequest& req, std::function<void(const DeliveryResult&)> on_result,
                  Call::OnEnd on_end, uint64_t timeout_ms = 0,
                  std::function<void(const ConnectionFact&)> on_connection = {});
// The bounce protocol on a call: on_answer exactly once, a failed answer when
// the call breaks or outlasts timeout_ms.
void SendBounce(Call& call, const BounceRequest& req, uint64_t timeout_ms,
                std::function<void(const BounceAnswer&)> on_answer);

// Blocking, for commands: one request frame to the unix socket, the first
// answer frame's payload back, all within timeout_ms (bounce_call.cc).
Result<std::string> CallOnce(const std::string& socket_path, std::string_view request, size_t frame_max,
                             int timeout_ms);

}  // namespace postern::ipc
