// ipc/agent.cc — the client side of the delivery protocol on an event loop (qmgr,
// and the smtp client passing mail on to best_mx_transport).
#include "ipc/agent.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

namespace postern::ipc {

std::unique_ptr<AgentCall> AgentCall::Connect(uv_loop_t* loop, const std::string& path, Failure* failure,
                                              std::string* why) {
  sockaddr_un sun{};
  if (path.size() >= sizeof sun.sun_path) {
    *failure = Failure::kUnreachable;
    *why = "socket path too long: " + path;
    return nullptr;
  }
  event::Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    *failure = Failure::kBusy;
    *why = std::string("socket: ") + std::strerror(errno);
    return nullptr;
  }
  sun.sun_family = AF_UNIX;
  std::memcpy(sun.sun_path, path.data(), path.size());
  // A unix-socket connect completes at once or fails at once; EAGAIN means
  // the backlog is full because master has not started enough workers yet.
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0) {
    *failure = errno == EAGAIN ? Failure::kBusy : Failure::kUnreachable;
    *why = "connect to " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  auto stream = event::Stream::Adopt(loop, fd.Release());
  if (!stream) {
    *failure = Failure::kBusy;
    *why = stream.error();
    return nullptr;
  }
  std::unique_ptr<AgentCall> call(new AgentCall());
  call->stream_ = std::move(*stream);
  return call;
}

void AgentCall::Send(const DeliveryRequest& request, OnResult on_result, OnEnd on_end) {
  on_result_ = std::move(on_result);
  on_end_ = std::move(on_end);
  stream_->ReadStart([this](std::string_view d) { OnData(d); },
                     [this](int status) {
                       Finish(End::kCrashed, status == UV_EOF ? "connection closed before the end of the results"
                                                              : std::string("read: ") + uv_strerror(status));
                     });
  stream_->Write(Frame(EncodeRequest(request)), [this](int status) {
    if (status < 0) Finish(End::kCrashed, std::string("write: ") + uv_strerror(status));
  });
}

void AgentCall::OnData(std::string_view data) {
  if (ended_) return;
  reader_.Feed(data);
  std::string payload;
  for (;;) {
    auto st = reader_.Next(&payload);
    if (st == FrameReader::Status::kNeedMore) return;
    if (st == FrameReader::Status::kTooLong) return Finish(End::kCrashed, "result frame too long");
    switch (KindOf(payload)) {
      case DeliveryFrame::kResult: {
        auto r = DecodeResult(payload);
        if (!r) return Finish(End::kCrashed, "malformed result frame");
        on_result_(*r);
        break;
      }
      case DeliveryFrame::kEnd:
        return Finish(End::kDone, "");
      default:
        return Finish(End::kCrashed, "unexpected frame");
    }
  }
}

void AgentCall::Finish(End how, const std::string& why) {
  if (ended_) return;
  ended_ = true;
  stream_->ReadStop();
  // The owner may destroy us from on_end: nothing of ours is touched after it.
  OnEnd done = std::move(on_end_);
  done(how, why);
}

}  // namespace postern::ipc
