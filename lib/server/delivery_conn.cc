// server/delivery_conn.cc — delivery requests one after another on one qmgr
// connection; see delivery_conn.h. Reads stay on for the connection's life.
#include "postern/server/delivery_conn.h"

#include <sys/socket.h>

#include "postern/log/log.h"

namespace postern::server {

void DeliveryConn::Serve(Client client, OnRequest on_request) {
  std::shared_ptr<DeliveryConn> c(new DeliveryConn(std::move(client), std::move(on_request)));
  c->client_.stream->ReadStart([c](std::string_view d) { c->OnData(d); }, [c](int) { c->OnEnd(); });
}

void DeliveryConn::OnData(std::string_view data) {
  frames_.Feed(data);
  if (!busy_ && !writing_) Next();  // else qmgr spoke early: the request waits its turn
}

// qmgr closed (or the connection broke).
void DeliveryConn::OnEnd() {
  gone_ = true;
  if (busy_) return;  // the delivery goes on; its results go nowhere
  if (writing_) {
    close_wanted_ = true;
    return;
  }
  Close();
}

void DeliveryConn::Next() {
  std::string payload;
  auto st = frames_.Next(&payload);
  if (st == ipc::FrameReader::Status::kNeedMore) return;
  std::optional<ipc::DeliveryRequest> r;
  if (st == ipc::FrameReader::Status::kFrame) r = ipc::DecodeRequest(payload);
  if (!r || r->recipients.empty()) {
    log::Warning("malformed delivery request from {}", client_.peer.empty() ? "qmgr" : client_.peer);
    return Close();
  }
  busy_ = true;
  if (!first_) client_.lease.RequestStarted();
  first_ = false;
  on_request_(shared_from_this(), std::move(*r));
}

void DeliveryConn::Send(std::string frames) {
  if (!gone_ && client_.stream) client_.stream->Write(std::move(frames));
}

void DeliveryConn::Connection(const ipc::ConnectionFact& c) {
  std::string out;
  ipc::AppendFrame(ipc::EncodeConnection(c), &out);
  Send(std::move(out));
}

void DeliveryConn::Result(const ipc::DeliveryResult& r) {
  std::string out;
  ipc::AppendFrame(ipc::EncodeResult(r), &out);
  Send(std::move(out));
}

void DeliveryConn::Finish(const std::vector<ipc::DeliveryResult>& results) {
  if (!busy_) return;
  busy_ = false;
  if (gone_ || !client_.stream) return Close();
  std::weak_ptr<DeliveryConn> weak = weak_from_this();
  bool keep = client_.lease.RequestDone([weak] {
    if (auto self = weak.lock()) self->CloseIdle();
  });
  std::string out;
  for (const auto& r : results) ipc::AppendFrame(ipc::EncodeResult(r), &out);
  ipc::AppendFrame(ipc::EncodeEnd(keep), &out);
  writing_ = true;
  client_.stream->Write(std::move(out), [self = shared_from_this(), keep](int status) { self->Written(keep, status); });
}

void DeliveryConn::Written(bool keep, int status) {
  writing_ = false;
  if (!keep || status < 0) return Close();
  if (close_wanted_) return CloseIdle();
  Next();  // a request that came while we wrote
}

// The worker wants the idle connection gone (max_idle, retirement). A
// request that qmgr sent already is served instead (the worker counts it
// and closes after it); closing with it unread would tell qmgr ECONNRESET,
// which it takes as "not taken" and sends elsewhere, but serving it is cheaper.
void DeliveryConn::CloseIdle() {
  if (busy_ || !client_.stream) return;
  if (writing_) {
    close_wanted_ = true;
    return;
  }
  close_wanted_ = false;
  char probe;
  if (!gone_ && (frames_.pending() > 0 || recv(client_.stream->fd(), &probe, 1, MSG_PEEK | MSG_DONTWAIT) > 0)) return;
  Close();
}

void DeliveryConn::Close() {
  if (!client_.stream) return;
  client_.stream.reset();
  client_.lease.Release();  // may end the process (max_use, retirement)
}

}  // namespace postern::server
