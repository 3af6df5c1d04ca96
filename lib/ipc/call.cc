// ipc/call.cc — the client side of qmgr's calls to transports and to bounce on an
// event loop (qmgr, and the smtp client passing mail on to best_mx_transport).
#include "postern/ipc/call.h"

#include <cerrno>

#include "postern/util/unix_socket.h"

namespace postern::ipc {

std::unique_ptr<Call> Call::Connect(uv_loop_t* loop, const std::string& path, size_t frame_max, Failure* failure,
                                    std::string* why) {
  // A unix-socket connect completes at once or fails at once; EAGAIN means
  // the backlog is full because master has not started enough workers yet.
  int err = 0;
  auto fd = ConnectUnix(path, true, &err);
  if (!fd) {
    bool busy = err == EAGAIN || err == EMFILE || err == ENFILE;
    *failure = busy ? Failure::kBusy : Failure::kUnreachable;
    *why = fd.error();
    return nullptr;
  }
  auto stream = event::Stream::Adopt(loop, fd->Release());
  if (!stream) {
    *failure = Failure::kBusy;
    *why = stream.error();
    return nullptr;
  }
  std::unique_ptr<Call> call(new Call(loop, frame_max));
  call->stream_ = std::move(*stream);
  return call;
}

void Call::Send(std::string payload, OnFrame on_frame, OnEnd on_end, uint64_t timeout_ms) {
  on_frame_ = std::move(on_frame);
  on_end_ = std::move(on_end);
  stream_->ReadStart([this](std::string_view d) { OnData(d); },
                     [this](int status) {
                       Finish(End::kCrashed, status == UV_EOF ? "connection closed before the end of the results"
                                                              : std::string("read: ") + uv_strerror(status));
                     });
  stream_->Write(Frame(payload), [this](int status) {
    if (status < 0) Finish(End::kCrashed, std::string("write: ") + uv_strerror(status));
  });
  if (timeout_ms > 0) timer_.Start(timeout_ms, 0, [this] { Finish(End::kCrashed, "timed out"); });
}

void Call::OnData(std::string_view data) {
  if (ended_) return;
  reader_.Feed(data);
  std::string payload;
  for (;;) {
    auto st = reader_.Next(&payload);
    if (st == FrameReader::Status::kNeedMore) return;
    if (st == FrameReader::Status::kTooLong) return Finish(End::kCrashed, "answer frame too long");
    std::string why;
    switch (on_frame_(payload, &why)) {
      case Next::kMore: break;
      case Next::kLast: return Finish(End::kDone, "");
      case Next::kBad: return Finish(End::kCrashed, why);
    }
    if (ended_) return;
  }
}

void Call::Finish(End how, const std::string& why) {
  if (ended_) return;
  ended_ = true;
  timer_.Stop();
  stream_->ReadStop();
  // The owner may destroy us from on_end: nothing of ours is touched after it.
  OnEnd done = std::move(on_end_);
  done(how, why);
}

void SendDelivery(Call& call, const DeliveryRequest& req, std::function<void(const DeliveryResult&)> on_result,
                  Call::OnEnd on_end, uint64_t timeout_ms,
                  std::function<void(const ConnectionFact&)> on_connection) {
  call.Send(
      EncodeRequest(req),
      [on_result = std::move(on_result), on_connection = std::move(on_connection)](std::string_view payload,
                                                                                   std::string* why) {
        switch (KindOf(payload)) {
          case DeliveryFrame::kResult:
            if (auto r = DecodeResult(payload)) {
              on_result(*r);
              return Call::Next::kMore;
            }
            *why = "malformed result frame";
            return Call::Next::kBad;
          case DeliveryFrame::kConnection:
            if (auto c = DecodeConnection(payload)) {
              if (on_connection) on_connection(*c);
              return Call::Next::kMore;
            }
            *why = "malformed connection frame";
            return Call::Next::kBad;
          case DeliveryFrame::kEnd: return Call::Next::kLast;
          default: *why = "unexpected frame"; return Call::Next::kBad;
        }
      },
      std::move(on_end), timeout_ms);
}

void SendBounce(Call& call, const BounceRequest& req, uint64_t timeout_ms,
                std::function<void(const BounceAnswer&)> on_answer) {
  auto answer = std::make_shared<std::optional<BounceAnswer>>();
  call.Send(
      EncodeBounceRequest(req),
      [answer](std::string_view payload, std::string* why) {
        *answer = DecodeBounceAnswer(payload);
        if (*answer) return Call::Next::kLast;
        *why = "malformed answer from the bounce service";
        return Call::Next::kBad;
      },
      [answer, on_answer = std::move(on_answer)](Call::End how, const std::string& why) {
        if (how == Call::End::kDone && *answer) return on_answer(**answer);
        on_answer({false, 0, why == "timed out" ? "bounce service timed out"
                             : why.starts_with("connection closed") ? "bounce service closed the connection"
                                                                     : why});
      },
      timeout_ms);
}

}  // namespace postern::ipc
