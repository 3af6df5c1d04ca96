// qmgr/main.cc — the queue manager daemon: one long-running kTrigger worker
// (master.cf `qmgr unix n - n 300 1 qmgr`) woken by smtpd, master and itself.
#include "postern/log/log.h"
#include "postern/server/server.h"
#include "postern/stats/recorder.h"
#include "qmgr/control.h"
#include "qmgr/manager.h"

using namespace postern;

int main(int argc, char** argv) {
  // Lives until the process exits (the skeleton ends it with exit()), so that
  // no callback still queued on the loop can outlive it.
  qmgr::Manager* manager = nullptr;
  server::Service svc;
  svc.kind = server::Kind::kTrigger;
  svc.long_running = true;
  svc.init = [&](server::Context& ctx) -> Result<void> {
    auto settings = qmgr::Settings::FromConfig(ctx.config);
    if (!settings) return Err(settings.error());
    auto router = route::Router::FromConfig(ctx.config);
    if (!router) return Err(router.error());
    auto opts = queue::OptionsFromConfig(ctx.config);
    if (!opts.ok()) return Err(opts.status().message);
    // Envelopes a dead qmgr had in flight become due again: at-least-once.
    opts->recover = true;
    // Its transitions (active, sent, deferred) redo safely after an OS crash,
    // as Postfix's qmgr renames without fsync: one flush per commit, not two.
    opts->meta_sync = false;
    auto q = queue::Queue::Open(settings->queue_directory, *opts);
    if (!q.ok()) return Err("queue " + settings->queue_directory + ": " + q.status().message);
    stats::StartRecorder(ctx.loop, ctx.config);
    // The queue, its store, the calls, the manager and its control adapter.
    auto* queue = q->release();
    auto* store = new qmgr::QueueStore(*queue);
    auto* calls = new qmgr::SocketCalls(ctx.loop, settings->queue_directory + "/private");
    manager = new qmgr::Manager(ctx.loop, ctx.config, std::move(*settings), std::move(*router), *store, *calls);
    manager->SetRuntime(ctx.runtime);
    manager->SetRetiredCheck(ctx.retired);
    (new qmgr::Control(ctx.loop, *manager, *queue))->Register();
    manager->Start();
    return {};
  };
  svc.on_trigger = [&](server::Context&, std::string_view request) { manager->Trigger(request); };
  svc.on_drain = [&](server::Context& ctx) { manager->Drain(ctx.hold()); };
  svc.on_runtime = [&](server::Context& ctx, const ipc::control::RuntimeState& old) {
    manager->SetRuntime(ctx.runtime);
    if (ctx.runtime.options == old.options || !manager->Reconfigure(ctx.config)) return;
    server::LogOptionsAdopted(ctx, old);
  };
  return server::Run("qmgr", argc, argv, std::move(svc));
}
