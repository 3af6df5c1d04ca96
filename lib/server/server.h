// server/server.h — the one skeleton every worker runs under. master starts a
// worker with its listening sockets and a status socket inherited; the
// skeleton accepts clients, hands each to the service, tells master whether
// it is still accepting, and exits after max_idle without clients, after
// max_use clients are done (a kMulti worker keeps accepting until then, and
// exits when its last session ends; a kSingle worker counts each request on a
// kept connection, Lease::RequestDone), or once master is gone. A service's main() is wiring only:
//
//   int main(int argc, char** argv) {
//     server::Service svc;
//     svc.kind = server::Kind::kMulti;              // or kSingle, kTrigger
//     svc.init = [&](server::Context& ctx) -> Result<void> { ...open tables...; return {}; };
//     svc.on_client = [&](server::Context& ctx, server::Client c) {
//       auto s = std::make_shared<Session>(ctx, std::move(c));  // keeps c.lease
//       s->Start();                                  // drop the lease when done
//     };
//     return server::Run("smtpd", argc, argv, std::move(svc));
//   }
//
// Command line (master builds it; see master(8)):
//   program -c config_dir -n service -t type -s listen_count -g generation [-v]
//           [-u uid:gid] [-o name=value ...] [args ...]
// With -u (master runs as root, the service is unprivileged) the skeleton
// drops to that user and group itself, right after Service::privileged_init,
// as Postfix's daemons do after their pre-jail initialisation.
// Listening sockets are inherited at fds 3 .. 3+listen_count-1, the status
// socket right after them; with -k, the worker's control link (ipc/control.h)
// right after the status socket. Everything that is not one of these options (in
// order) is left in Context::args for the service.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "postern/config/maincf.h"
#include "postern/event/event.h"
#include "postern/ipc/control.h"
#include "postern/util/result.h"

namespace postern::server {

enum class Kind {
  kMulti,    // event-driven: many clients at once on the loop (smtpd)
  kSingle,   // one client at a time (transports: each delivery request is one use, see Lease)
  kTrigger,  // wakeup requests: reads a few bytes per connection, then on_trigger (qmgr, pickup);
             // several at once, like kMulti (client_limit)
};

class Worker;

// Held by the service for as long as it serves one client. Dropping it (the
// destructor) tells the skeleton that this client is done: that is what
// max_use counts and what turns a busy worker idle again.
class Lease {
 public:
  Lease() = default;
  ~Lease() { Release(); }
  Lease(Lease&& o) noexcept : w_(o.w_), hold_(o.hold_), counted_(o.counted_) { o.w_ = nullptr; }
  Lease& operator=(Lease&& o) noexcept {
    if (this != &o) {
      Release();
      w_ = o.w_;
      hold_ = o.hold_;
      counted_ = o.counted_;
      o.w_ = nullptr;
    }
    return *this;
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  void Release();

  // A client that sends requests one after another on its connection (qmgr
  // to a transport): each request is one use for max_use. RequestDone counts
  // the one just answered and says whether the connection may wait for the
  // next; if so, the worker is idle on it until RequestStarted, and when it
  // wants the connection gone (max_idle, retirement) it calls close_idle,
  // which must close it unless a request is already waiting there.
  bool RequestDone(std::function<void()> close_idle);
  void RequestStarted();

 private:
  friend class Worker;
  Lease(Worker* w, bool hold) : w_(w), hold_(hold) {}
  Worker* w_ = nullptr;
  bool hold_ = false;     // Context::hold's kind: keeps a retired worker alive, no client
  bool counted_ = false;  // its last request is counted already (RequestDone)
};

// One accepted connection. The service owns both parts; the stream closes the
// connection when destroyed, the lease ends the client's turn.
struct Client {
  std::unique_ptr<event::Stream> stream;
  Lease lease;
  std::string peer;  // "127.0.0.1:40312", a unix socket path, or ""
};

// What a service sees of its process.
struct Context {
  config::Config config;       // main.cf with the master.cf -o overrides applied
  uv_loop_t* loop = nullptr;   // the process's one loop
  std::string program;         // "smtpd", "qmgr": the name given to Run
  std::string service;         // master.cf service name ("smtp", "127.0.0.1:2525")
  std::string type;            // inet | unix | ...
  std::vector<std::string> args;  // master.cf arguments that are not skeleton options
  bool draining = false;       // master retired this worker: finish current clients
  // True once master has retired this worker, even before the skeleton has
  // seen it on its loop (one cheap system call): a service checks it before
  // it takes on new work, such as qmgr before it activates a scan page.
  std::function<bool()> retired;
  // Work that is no client but must end before a retired worker exits (qmgr's
  // deliveries in flight): the worker lives until every lease, this kind
  // included, is dropped.
  std::function<Lease()> hold;
  // The operator's runtime decisions (postern pause/log/trace/set option),
  // read at start and kept current by master; see ipc/control.h.
  ipc::control::RuntimeState runtime;
};

struct Service {
  Kind kind = Kind::kSingle;
  // Long-running services (qmgr) ignore max_idle and max_use, as in Postfix.
  bool long_running = false;
  // kMulti: clients served at once; at this many the worker stops accepting
  // and master may start another worker. 0 = no limit.
  size_t client_limit = 0;
  // kTrigger: most bytes read from one wakeup connection.
  size_t trigger_limit = 1024;
  // Takes no new clients while the operator has paused SMTP (`postern pause
  // smtp`, RuntimeState::pause_smtp); smtpd sets it, other services do not.
  bool pausable = false;

  // Optional: runs before the skeleton drops root's privileges (-u), with
  // configuration and logging set up; for what only root may read, such as
  // a 0600 private key. Keep it to reading files: nothing here may create
  // anything that mail_owner must later own. An error is fatal, as init's.
  std::function<Result<void>(Context&)> privileged_init;
  // After configuration and logging are set up (and privileges dropped),
  // before the first client.
  // An error is logged as fatal and the worker exits 1 (master throttles it).
  std::function<Result<void>(Context&)> init;
  // kMulti, kSingle: a new client.
  std::function<void(Context&, Client)> on_client;
  // kTrigger: the bytes of one wakeup request (e.g. "W"), connection closed.
  std::function<void(Context&, std::string_view request)> on_trigger;
  // Optional: master retired this worker (reload, stop, or master gone; the
  // worker cannot tell which). The skeleton has stopped accepting and exits
  // once every lease is dropped. Let sessions finish (a reload must not cut
  // them; on stop master kills what is left after stop_grace_time); drop
  // what only waits for new work, such as cached idle connections.
  std::function<void(Context&)> on_drain;
  // Optional: ctx.runtime has just changed (ctx.runtime is already the new
  // state; `old` the previous one). The skeleton itself applies the log
  // level and, for a pausable service, pause smtp; when the `set option` overrides
  // changed, ctx.config is already main.cf + -o + the new overrides, and a
  // service adopts what it can of its own parameters here. (Every worker
  // also answers `update table NAME` through lib/table's list of open files.)
  std::function<void(Context&, const ipc::control::RuntimeState& old)> on_runtime;
};

// For on_runtime handlers that adopted new `set option` overrides: logs
// "runtime option NAME = VALUE adopted" for each one that changed.
void LogOptionsAdopted(const Context& ctx, const ipc::control::RuntimeState& old);

// Runs the worker until it has no reason to live; returns the exit status.
int Run(std::string_view program, int argc, char** argv, Service service);

}  // namespace postern::server
