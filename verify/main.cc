// verify/main.cc — the address verification service (verify(8)): one query
// frame per connection from smtpd, `postern verify` or `sendmail -bv`, one
// answer frame back; the cache and probes live in Verifier.
#include <memory>
#include <string>

#include "postern/config/mastercf.h"
#include "postern/ipc/frame.h"
#include "postern/log/log.h"
#include "postern/server/server.h"
#include "verify/verifier.h"

using namespace postern;

namespace {

constexpr size_t kClientLimit = 1000;      // queries served at once by one worker
constexpr uint64_t kReadTimeoutMs = 10000;  // for the one query frame

Result<verify::Settings> LoadSettings(const config::Config& cfg) {
  verify::Settings s;
  verify::Lifetimes& l = s.lifetimes;
  std::pair<const char*, uint64_t*> times[] = {
      {"address_verify_positive_expire_time", &l.positive_expire},
      {"address_verify_positive_refresh_time", &l.positive_refresh},
      {"address_verify_negative_expire_time", &l.negative_expire},
      {"address_verify_negative_refresh_time", &l.negative_refresh}};
  for (auto [name, out] : times) {
    auto t = cfg.GetTime(name);
    if (!t) return Err(t.error());
    *out = uint64_t(t->count());
  }
  auto neg = cfg.GetBool("address_verify_negative_cache");
  if (!neg) return Err(neg.error());
  l.negative_cache = *neg;
  auto sender = cfg.Get("address_verify_sender");
  if (!sender) return Err(sender.error());
  s.sender = *sender;
  // A bare local part gets @$myorigin, as Postfix's cleanup appends it.
  if (!s.sender.empty() && s.sender.find('@') == std::string::npos) s.sender += "@" + cfg.Str("myorigin");
  s.queue_dir = cfg.Str("queue_directory");
  auto services = config::LoadMasterCf(cfg.config_dir());
  if (!services) return Err(services.error());
  for (const config::MasterService& m : *services)
    if (m.type == "unix" && (m.command == "smtp" || m.command == "lmtp")) s.probing_transports.insert(m.service);
  return s;
}

// One query: a bounded frame in, the answer out, then the connection closes.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(uv_loop_t* loop, verify::Verifier& v, server::Client c)
      : verifier_(v), client_(std::move(c)), reader_(ipc::kVerifyFrameMax), timer_(loop) {}

  void Start() {
    auto self = shared_from_this();
    std::weak_ptr<Exchange> weak = self;
    timer_.Start(kReadTimeoutMs, 0, [weak] {
      if (auto x = weak.lock()) x->Close();
    });
    client_.stream->ReadStart([self](std::string_view d) { self->OnData(d); }, [self](int) { self->Close(); });
  }

 private:
  void OnData(std::string_view d) {
    if (asked_) return;
    reader_.Feed(d);
    std::string payload;
    auto st = reader_.Next(&payload);
    if (st == ipc::FrameReader::Status::kNeedMore) return;
    auto q = st == ipc::FrameReader::Status::kFrame ? ipc::DecodeVerifyQuery(payload) : std::nullopt;
    if (!q) {
      log::Warning("malformed verify query from {}", client_.peer.empty() ? "a local client" : client_.peer);
      return Close();
    }
    asked_ = true;
    timer_.Stop();
    client_.stream->ReadStop();
    std::weak_ptr<Exchange> weak = shared_from_this();
    verifier_.Query(*q, [weak](ipc::VerifyAnswer a) {
      if (auto x = weak.lock()) x->Send(ipc::Frame(ipc::EncodeVerifyAnswer(a)));
    });
    keep_ = shared_from_this();  // until the answer is written
  }

  void Send(std::string out) {
    if (!client_.stream) return;
    auto self = shared_from_this();
    client_.stream->Write(std::move(out), [self](int) { self->Close(); });
  }

  void Close() {
    auto keep = shared_from_this();
    keep_.reset();
    timer_.Stop();
    client_.stream.reset();
    client_.lease.Release();
  }

  verify::Verifier& verifier_;
  server::Client client_;
  ipc::FrameReader reader_;
  event::Timer timer_;
  bool asked_ = false;
  std::shared_ptr<Exchange> keep_;
};

}  // namespace

int main(int argc, char** argv) {
  std::unique_ptr<verify::Verifier> verifier;  // lives until the process exits
  server::Service svc;
  svc.kind = server::Kind::kMulti;
  svc.client_limit = kClientLimit;
  svc.init = [&](server::Context& ctx) -> Result<void> {
    auto s = LoadSettings(ctx.config);
    if (!s) return Err(s.error());
    auto router = route::Router::FromConfig(ctx.config);
    if (!router) return Err(router.error());
    auto opts = cache::OptionsFromConfig(ctx.config);
    if (!opts) return Err(opts.error() + ": address verification keeps its results there");
    auto cache = cache::Open(ctx.loop, *opts);
    if (!cache) return Err("policy cache " + opts->database + ": " + cache.error());
    verifier = std::make_unique<verify::Verifier>(ctx.loop, std::move(*s), std::move(*router), std::move(*cache));
    return {};
  };
  svc.on_client = [&](server::Context& ctx, server::Client c) {
    std::make_shared<Exchange>(ctx.loop, *verifier, std::move(c))->Start();
  };
  return server::Run("verify", argc, argv, std::move(svc));
}
