// bounce/main.cc — the bounce daemon (master.cf `bounce unix - - n - 0
// bounce`): one request from qmgr per connection (ipc/bounce.h), answered
// once the notices are in the queue. Wiring only; see bounce(8).
#include <memory>

#include "bounce/service.h"
#include "postern/ipc/frame.h"
#include "postern/log/log.h"
#include "postern/server/server.h"

using namespace postern;

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(bounce::Service& svc, server::Client c) : svc_(svc), c_(std::move(c)), reader_(ipc::kBounceFrameMax) {}

  void Start() {
    auto self = shared_from_this();
    c_.stream->ReadStart([self](std::string_view d) { self->OnData(d); }, [self](int) { self->End(); });
  }

 private:
  void OnData(std::string_view d) {
    reader_.Feed(d);
    std::string payload;
    auto st = reader_.Next(&payload);
    if (st == ipc::FrameReader::Status::kNeedMore) return;
    c_.stream->ReadStop();
    auto req = st == ipc::FrameReader::Status::kFrame ? ipc::DecodeBounceRequest(payload) : std::nullopt;
    if (!req) {
      log::Warning("malformed request from {}", c_.peer.empty() ? "qmgr" : c_.peer);
      return End();
    }
    ipc::BounceAnswer a = svc_.Handle(*req);
    auto self = shared_from_this();
    c_.stream->Write(ipc::Frame(ipc::EncodeBounceAnswer(a)), [self](int) { self->End(); });
  }

  void End() {
    c_.stream.reset();
    c_.lease.Release();
  }

  bounce::Service& svc_;
  server::Client c_;
  ipc::FrameReader reader_;
};

}  // namespace

int main(int argc, char** argv) {
  // Lives until the process exits, so no callback still queued on the loop outlives it.
  bounce::Service* service = nullptr;
  server::Service svc;
  svc.kind = server::Kind::kSingle;
  svc.init = [&](server::Context& ctx) -> Result<void> {
    auto s = bounce::Settings::FromConfig(ctx.config);
    if (!s) return Err(s.error());
    auto opts = queue::OptionsFromConfig(ctx.config);
    if (!opts.ok()) return Err(opts.status().message);
    auto q = queue::Queue::Open(s->queue_directory, *opts);
    if (!q.ok()) return Err("queue " + s->queue_directory + ": " + q.status().message);
    auto cl = cleanup::Cleanup::FromConfig(ctx.config, q->get());
    if (!cl) return Err(cl.error());
    service = new bounce::Service(std::move(*s), std::move(*q), std::move(*cl));
    return {};
  };
  svc.on_client = [&](server::Context&, server::Client c) {
    std::make_shared<Session>(*service, std::move(c))->Start();
  };
  svc.on_runtime = [&](server::Context& ctx, const ipc::control::RuntimeState& old) {
    if (!service || ctx.runtime.options == old.options) return;
    auto s = bounce::Settings::FromConfig(ctx.config);
    if (!s) return log::Warning("set option: {}; keeping the previous settings", s.error());
    service->Adopt(std::move(*s));
    server::LogOptionsAdopted(ctx, old);
  };
  return server::Run("bounce", argc, argv, std::move(svc));
}
