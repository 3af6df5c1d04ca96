// ipc/call.cc — the client side of qmgr's calls to transports and to bounce on an
// event loop (qmgr, and the smtp client passing mail on to best_mx_transport), and
// the reuse of a connection its agent keeps.
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
  on_gone_ = nullptr;
  ended_ = keep_ = answered_ = closed_early_ = false;
  writing_ = true;
  uint64_t send = ++sends_;
  // Reads stay on for the life of the connection: a parked one must notice
  // its peer closing, and no request pays for epoll changes.
  if (!reading_) {
    reading_ = true;
    stream_->ReadStart([this](std::string_view d) { OnData(d); }, [this](int status) { OnReadEnd(status); });
  }
  stream_->Write(Frame(payload), [this, send](int status) { OnWritten(send, status); });
  if (timeout_ms > 0) timer_.Start(timeout_ms, 0, [this] { Finish(End::kCrashed, "timed out"); });
}

void Call::Park(std::function<void()> on_gone) { on_gone_ = std::move(on_gone); }

// The peer closed or spoke out of turn while no request was open.
void Call::Gone() {
  broken_ = true;
  if (auto gone = std::move(on_gone_)) gone();  // may destroy us
}

void Call::OnWritten(uint64_t send, int status) {
  if (send != sends_ || ended_) return;  // an earlier request's write, or answered already
  writing_ = false;
  if (status < 0) {
    if (sends_ > 1 && !answered_ && (status == UV_EPIPE || status == UV_ECONNRESET))
      return Finish(End::kNotTaken, "connection closed by the agent before the request");
    return Finish(End::kCrashed, std::string("write: ") + uv_strerror(status));
  }
  if (closed_early_) Finish(End::kCrashed, "connection closed before the end of the results");
}

void Call::OnReadEnd(int status) {
  reading_ = false;
  if (ended_) return Gone();
  if (sends_ > 1 && !answered_) {
    // Unread data at the peer's close turns its end into ECONNRESET: the
    // request was never read. A plain end of file is decided by our write: it
    // fails if the peer had closed before it, else the peer read and died.
    if (status == UV_ECONNRESET) return Finish(End::kNotTaken, "connection reset before the request was read");
    if (status == UV_EOF && writing_) {
      closed_early_ = true;
      return;
    }
  }
  Finish(End::kCrashed, status == UV_EOF ? "connection closed before the end of the results"
                                         : std::string("read: ") + uv_strerror(status));
}

void Call::OnData(std::string_view data) {
  if (ended_) {
    stream_->ReadStop();
    reading_ = false;
    return Gone();
  }
  reader_.Feed(data);
  std::string payload;
  for (;;) {
    auto st = reader_.Next(&payload);
    if (st == FrameReader::Status::kNeedMore) return;
    if (st == FrameReader::Status::kTooLong) return Finish(End::kCrashed, "answer frame too long");
    answered_ = true;
    std::string why;
    switch (on_frame_(payload, &why)) {
      case Next::kMore: break;
      case Next::kLastKeep: keep_ = true; return Finish(End::kDone, "");
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
  if (how != End::kDone || !keep_) {
    keep_ = false;
    reading_ = false;
    stream_->ReadStop();
  }
  // The owner may destroy us from on_end, or send the next request from it:
  // nothing of ours is touched after it.
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
          case DeliveryFrame::kEnd: return EndKeeps(payload) ? Call::Next::kLastKeep : Call::Next::kLast;
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
