// ipc/agent.h — one delivery request to a transport's unix service
// ($queue_directory/private/<transport>): connect, send the request frame,
// read one result frame per recipient and the end frame (ipc/delivery.h).
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "event/event.h"
#include "ipc/delivery.h"
#include "ipc/frame.h"

namespace postern::ipc {

class AgentCall {
 public:
  enum class Failure {
    kUnreachable,  // no such socket, or nobody accepts on it
    kBusy,         // the listen backlog is full: try again shortly
  };
  enum class End {
    kDone,     // the end frame arrived
    kCrashed,  // closed, or spoke garbage, before its end frame
  };
  using OnResult = std::function<void(const DeliveryResult&)>;
  using OnEnd = std::function<void(End, const std::string& why)>;

  // Connects without blocking. nullptr with *failure and *why set when it cannot.
  static std::unique_ptr<AgentCall> Connect(uv_loop_t* loop, const std::string& path, Failure* failure,
                                            std::string* why);
  // Sends the request; on_result per result frame, then on_end exactly once.
  // The owner may destroy the call only after on_end (not from inside on_result).
  void Send(const DeliveryRequest& request, OnResult on_result, OnEnd on_end);

 private:
  AgentCall() : reader_(kDeliveryFrameMax) {}
  void OnData(std::string_view data);
  void Finish(End how, const std::string& why);

  std::unique_ptr<event::Stream> stream_;
  FrameReader reader_;
  OnResult on_result_;
  OnEnd on_end_;
  bool ended_ = false;
};

}  // namespace postern::ipc
