// ipc/control_client.cc — see control_client.h.
#include "postern/ipc/control_client.h"

#include <cerrno>
#include <memory>

#include "postern/ipc/control.h"
#include "postern/ipc/frame.h"
#include "postern/util/unix_socket.h"

namespace postern::ipc::control {

std::string ControlPath(const config::Config& cfg) { return cfg.Str("queue_directory") + "/public/control"; }

Result<Fd> Connect(const std::string& path) {
  int err = 0;
  auto fd = ConnectUnix(path, false, &err);
  if (fd) return fd;
  if (err == EACCES || err == EPERM) return Err("permission denied");
  if (err == ENOENT || err == ECONNREFUSED) return Err(std::string(kNotRunning) + " (postern start)");
  return Err(fd.error());
}

namespace {

// One request in flight; keeps itself alive through its callbacks until done.
struct Call : std::enable_shared_from_this<Call> {
  std::unique_ptr<event::Stream> stream;
  std::unique_ptr<event::Timer> timer;
  FrameReader reader{kFrameMax};
  std::string text;
  size_t max_bytes = 0;
  std::function<void(Result<std::string>)> done;

  void Finish(Result<std::string> r) {
    if (!done) return;
    auto keep = shared_from_this();
    auto fn = std::move(done);
    done = nullptr;
    // Both hold callbacks that keep this alive; destroying them inside their
    // own callbacks is allowed (event.h).
    timer.reset();
    stream.reset();
    fn(std::move(r));
  }

  void OnData(std::string_view data) {
    auto keep = shared_from_this();
    reader.Feed(data);
    std::string payload;
    FrameReader::Status st;
    while (done && (st = reader.Next(&payload)) == FrameReader::Status::kFrame) {
      if (KindOf(payload) == Kind::kText) {
        auto t = DecodeText(payload);
        if (text.size() + t.size() > max_bytes) return Finish(Err("answer from master too long"));
        text.append(t);
        continue;
      }
      auto end = DecodeEnd(payload);
      if (!end) return Finish(Err("malformed answer from master"));
      if (!end->ok) return Finish(Err(end->error));
      return Finish(std::move(text));
    }
    if (done && st == FrameReader::Status::kTooLong) Finish(Err("malformed answer from master"));
  }
};

}  // namespace

void CallAsync(uv_loop_t* loop, const std::string& path, const std::vector<std::string>& words,
               uint64_t timeout_ms, size_t max_bytes, std::function<void(Result<std::string>)> done) {
  auto fd = Connect(path);
  if (!fd) return done(Err(fd.error()));
  auto stream = event::Stream::Adopt(loop, fd->Release());
  if (!stream) return done(Err(stream.error()));
  auto call = std::make_shared<Call>();
  call->stream = std::move(*stream);
  call->timer = std::make_unique<event::Timer>(loop);
  call->max_bytes = max_bytes;
  call->done = std::move(done);
  std::string frame;
  AppendFrame(EncodeRequest(words), &frame);
  call->stream->Write(std::move(frame), [call](int status) {
    if (status != 0) call->Finish(Err("write to master failed"));
  });
  call->timer->Start(timeout_ms, 0, [call] { call->Finish(Err("master did not answer in time")); });
  call->stream->ReadStart([call](std::string_view d) { call->OnData(d); }, [call](int) {
    call->Finish(Err("lost the connection to master before the end of the answer"));
  });
}

}  // namespace postern::ipc::control
