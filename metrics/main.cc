// metrics/main.cc — the metrics service (metrics(8)): answers GET /metrics on
// its master.cf inet listener with postern's figures in Prometheus' text
// format, gathered per scrape as `postern show stats` does (master over the
// control socket, the statistics store, the queue's counters).
#include <memory>
#include <string>

#include "metrics/exposition.h"
#include "postern/http/request.h"
#include "postern/ipc/control_client.h"
#include "postern/log/log.h"
#include "postern/queue/queue.h"
#include "postern/server/server.h"
#include "postern/stats/store.h"

using namespace postern;

namespace {

constexpr size_t kMaxAnswer = 1u << 20;  // of one control answer
constexpr size_t kClientLimit = 32;       // connections one worker serves at once
constexpr http::Resource kPage{"/metrics", "text/plain; version=0.0.4; charset=utf-8"};

struct Sources {
  server::Context* ctx = nullptr;
  std::unique_ptr<queue::Queue> queue;
  std::unique_ptr<stats::Store> store;  // null when stats_database is empty
  uint64_t timeout_ms = 10000;
};

// The store and queue figures; the live ones arrive first over the control socket.
Result<std::string> Finish(Sources& src, metrics::Snapshot s) {
  if (src.store) {
    auto t = src.store->Totals();
    if (!t) return Err("statistics database: " + t.error());
    s.totals.insert(t->begin(), t->end());
  }
  queue::Counters c = src.queue->GetCounters();
  s.incoming = c.incoming, s.active = c.active, s.deferred = c.deferred, s.hold = c.hold, s.corrupt = c.corrupt;
  s.messages = c.messages, s.bytes = c.bytes, s.enqueued = c.enqueued, s.removed = c.removed;
  return metrics::Render(s);
}

void Gather(Sources& src, std::function<void(Result<std::string>)> done) {
  std::string path = ipc::control::ControlPath(src.ctx->config);
  uv_loop_t* loop = src.ctx->loop;
  ipc::control::CallAsync(
      loop, path, {"show", "stats"}, src.timeout_ms, kMaxAnswer,
      [&src, loop, path, done](Result<std::string> stats) {
        if (!stats) return done(Err("show stats: " + stats.error()));
        auto s = std::make_shared<metrics::Snapshot>();
        metrics::AddLiveLines(*stats, &s->live);
        ipc::control::CallAsync(loop, path, {"show", "processes"}, src.timeout_ms, kMaxAnswer,
                                [&src, s, done](Result<std::string> procs) {
                                  if (!procs) return done(Err("show processes: " + procs.error()));
                                  s->services = metrics::ParseServices(*procs);
                                  done(Finish(src, std::move(*s)));
                                });
      });
}

// One HTTP client: a bounded head, one answer, then the connection closes.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(Sources& src, server::Client c) : src_(src), client_(std::move(c)), timer_(src.ctx->loop) {}

  void Start() {
    auto self = shared_from_this();
    // The timer is ours: its callback holds no reference back (no cycle).
    std::weak_ptr<Exchange> weak = self;
    timer_.Start(src_.timeout_ms, 0, [weak] {
      if (auto x = weak.lock()) {
        log::Info("timeout after {} bytes of request from {}", x->buf_.size(), x->client_.peer);
        x->Close();
      }
    });
    client_.stream->ReadStart([self](std::string_view d) { self->OnData(d); }, [self](int) { self->Close(); });
  }

 private:
  void OnData(std::string_view d) {
    if (answered_) return;
    buf_.append(d);
    http::Head head = http::ParseHead(buf_, http::HeadLimits{});
    if (head.state == http::Head::State::kIncomplete) return;
    answered_ = true;
    client_.stream->ReadStop();
    // From here on: two questions to master (each within the timeout), then the write.
    auto self = shared_from_this();
    std::weak_ptr<Exchange> weak = self;
    timer_.Start(3 * src_.timeout_ms, 0, [weak] {
      if (auto x = weak.lock()) {
        log::Info("timeout sending the answer to {}", x->client_.peer);
        x->Close();
      }
    });
    if (!http::Wants(head, kPage)) return Send(http::Respond(head, kPage, ""));
    Gather(src_, [self, head](Result<std::string> page) {
      if (!page) {
        log::Warning("metrics for {}: {}", self->client_.peer, page.error());
        return self->Send(http::Respond(head, kPage, "", page.error()));
      }
      self->Send(http::Respond(head, kPage, *page));
    });
  }

  void Send(std::string response) {
    if (!client_.stream) return;
    auto self = shared_from_this();
    client_.stream->Write(std::move(response), [self](int) { self->Close(); });
  }

  void Close() {
    auto keep = shared_from_this();  // the stream's callbacks may hold the last reference
    timer_.Stop();
    client_.stream.reset();
    client_.lease.Release();
  }

  Sources& src_;
  server::Client client_;
  event::Timer timer_;
  std::string buf_;
  bool answered_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  auto* src = new Sources;  // lives until the process exits
  server::Service svc;
  svc.kind = server::Kind::kMulti;
  // A scraper holds one connection; a flood of idle ones waits in the backlog.
  svc.client_limit = kClientLimit;
  svc.init = [&](server::Context& ctx) -> Result<void> {
    src->ctx = &ctx;
    src->timeout_ms = uint64_t(ctx.config.Time("metrics_timeout").count()) * 1000;
    auto opts = queue::OptionsFromConfig(ctx.config);
    if (!opts.ok()) return Err(opts.status().message);
    std::string qdir = ctx.config.Str("queue_directory");
    auto q = queue::Queue::Open(qdir, *opts);
    if (!q.ok()) return Err("queue " + qdir + ": " + q.status().message);
    src->queue = std::move(*q);
    if (std::string path = ctx.config.Str("stats_database"); !path.empty()) {
      auto st = stats::Store::Open(path);
      if (!st) return Err("statistics database " + path + ": " + st.error());
      src->store = std::move(*st);
    }
    return {};
  };
  svc.on_client = [&](server::Context&, server::Client c) {
    std::make_shared<Exchange>(*src, std::move(c))->Start();
  };
  return server::Run("metrics", argc, argv, std::move(svc));
}
