// server/delivery_agent.cc — one delivery request per client; see delivery_agent.h.
#include "postern/server/delivery_agent.h"

#include <memory>

#include "postern/ipc/frame.h"
#include "postern/log/log.h"

namespace postern::server {

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Client c, DeliveryHandler h) : client_(std::move(c)), handler_(std::move(h)) {}

  void Start() {
    auto self = shared_from_this();
    client_.stream->ReadStart([self](std::string_view d) { self->OnData(d); }, [self](int) { self->Done(); });
  }

 private:
  void OnData(std::string_view data) {
    if (handled_) return;
    frames_.Feed(data);
    std::string payload;
    auto st = frames_.Next(&payload);
    if (st == ipc::FrameReader::Status::kNeedMore) return;
    handled_ = true;
    client_.stream->ReadStop();
    std::optional<ipc::DeliveryRequest> r;
    if (st == ipc::FrameReader::Status::kFrame) r = ipc::DecodeRequest(payload);
    if (!r || r->recipients.empty()) {
      log::Warning("malformed delivery request from {}", client_.peer.empty() ? "qmgr" : client_.peer);
      return Done();
    }
    std::string out;
    for (const ipc::DeliveryResult& res : handler_(std::move(*r))) ipc::AppendFrame(ipc::EncodeResult(res), &out);
    ipc::AppendFrame(ipc::EncodeEnd(), &out);
    auto self = shared_from_this();
    client_.stream->Write(std::move(out), [self](int) { self->Done(); });
  }

  void Done() {
    if (done_) return;
    done_ = true;
    client_.stream.reset();
    client_.lease.Release();
  }

  Client client_;
  DeliveryHandler handler_;
  ipc::FrameReader frames_{ipc::kDeliveryFrameMax};
  bool handled_ = false, done_ = false;
};

}  // namespace

void ServeDeliveryRequest(Client client, DeliveryHandler handler) {
  std::make_shared<Session>(std::move(client), std::move(handler))->Start();
}

int RunDeliveryAgent(std::string_view program, int argc, char** argv, DeliveryAgent agent) {
  Service svc;
  svc.kind = Kind::kSingle;
  svc.init = std::move(agent.init);
  svc.on_client = [deliver = std::move(agent.deliver)](Context&, Client c) { ServeDeliveryRequest(std::move(c), deliver); };
  svc.on_runtime = std::move(agent.on_runtime);
  return Run(program, argc, argv, std::move(svc));
}

}  // namespace postern::server
