// qmgr/notify.h — one request to the bounce service ($queue_directory/
// private/bounce): connect, send the request frame, read the one answer
// frame (ipc/bounce.h). A call that cannot connect, breaks, or outlasts its
// time limit ends with a failed answer, so the caller keeps its envelopes.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "event/event.h"
#include "ipc/bounce.h"
#include "ipc/frame.h"

namespace postern::qmgr {

class BounceCall {
 public:
  using OnAnswer = std::function<void(const ipc::BounceAnswer&)>;

  // Starts the call; on_answer runs exactly once, never from inside Start.
  // The owner keeps the call until then and may destroy it from on_answer.
  static std::unique_ptr<BounceCall> Start(uv_loop_t* loop, const std::string& path,
                                           const ipc::BounceRequest& req, uint64_t timeout_ms, OnAnswer on_answer);

 private:
  explicit BounceCall(uv_loop_t* loop) : reader_(ipc::kBounceFrameMax), timer_(loop) {}
  void OnData(std::string_view data);
  void Finish(ipc::BounceAnswer a);

  std::unique_ptr<event::Stream> stream_;
  ipc::FrameReader reader_;
  event::Timer timer_;
  OnAnswer on_answer_;
  bool ended_ = false;
};

}  // namespace postern::qmgr
