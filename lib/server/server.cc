// server/server.cc — the worker skeleton (see server.h): accept on inherited
// listeners, report accepting/not accepting to master, recycle after
// max_idle/max_use, drain when the status socket reaches end of file.
#include "postern/server/server.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "postern/config/layout.h"
#include "postern/ipc/control_link.h"
#include "postern/ipc/status.h"
#include "postern/log/last_words.h"
#include "postern/log/log.h"
#include "postern/server/watchdog.h"
#include "postern/table/file_watch.h"
#include "postern/util/strings.h"

namespace postern::server {

constexpr int kFirstListenFd = 3;

struct Options {
  std::string config_dir;
  int listen_count = -1;
  bool verbose = false;
  bool control = false;  // -k: a control link follows the status socket
  bool last_words = false;  // -e: then a pipe for the fatal line master reports
  std::optional<std::pair<uid_t, gid_t>> drop_to;  // -u uid:gid
  std::vector<std::pair<std::string, std::string>> overrides;
};

namespace {

// For good: supplementary groups, group, then user; a process that could
// still become root again would be no unprivileged worker.
void DropPrivileges(uid_t uid, gid_t gid) {
  if (geteuid() != 0 && geteuid() == uid) return;  // already that user
  if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
    log::Fatal("cannot drop privileges to uid {} gid {}: {}", uid, gid, std::strerror(errno));
  if (uid != 0 && setuid(0) == 0) log::Fatal("privileges were not dropped: setuid(0) still works");
}

}  // namespace

class Worker {
 public:
  Worker(Service svc, Context ctx, std::vector<int> listen_fds, int status_fd)
      : svc_(std::move(svc)),
        ctx_(std::move(ctx)),
        idle_timer_(loop_.get()),
        status_fd_(status_fd),
        status_(status_fd) {
    ctx_.loop = loop_.get();
    ctx_.retired = [this] { return ctx_.draining || StatusClosed(); };
    ctx_.hold = [this] {
      ++holds_;
      return Lease(this, true);
    };
    for (int fd : listen_fds) {
      event::SetNonBlocking(fd, true);
      listeners_.push_back(std::make_unique<event::Poll>(loop_.get(), fd));
      listen_fds_.push_back(fd);
    }
  }

  int Main(const std::optional<std::pair<uid_t, gid_t>>& drop_to) {
    max_use_ = ctx_.config.Int("max_use");
    max_idle_ms_ = uint64_t(ctx_.config.Time("max_idle").count()) * 1000;
    if (svc_.privileged_init) {
      if (auto r = svc_.privileged_init(ctx_); !r) log::Fatal("{}", r.error());
    }
    if (drop_to) DropPrivileges(drop_to->first, drop_to->second);
    if (svc_.init) {
      if (auto r = svc_.init(ctx_); !r) log::Fatal("{}", r.error());
    }
    if (control_fd_ >= 0) OpenControl();
    status_poll_ = std::make_unique<event::Poll>(loop_.get(), status_fd_);
    status_writable_wait_ = status_.pending();
    PollStatus();
    UpdateAccepting();
    ArmIdleTimer();
    // daemon_timeout, as Postfix's skeletons: a loop turn is progress, except
    // that a one-client-at-a-time worker's request counts as one whole step
    // of work (its watchdog restarts at each new client).
    Watchdog watchdog(loop_.get(), ctx_.config.Time("daemon_timeout"),
                      [this] { return svc_.kind != Kind::kSingle || clients_ == 0 || between_; });
    loop_.Run();
    return 0;
  }

  // max_use counts clients when they are done, as Postfix's multi-threaded
  // servers count disconnections: an event-driven worker holding thousands of
  // long sessions is not recycled by their number, only by finished ones.
  void ClientDone(bool counted) {
    --clients_;
    if (!counted) ++uses_;
    between_ = false;
    idle_close_ = nullptr;
    UpdateAccepting();
    if (clients_ == 0) {
      if ((ctx_.draining || UsedUp() || idle_expired_) && holds_ == 0) Exit();
      ArmIdleTimer();
    }
  }

  // Lease::RequestDone: one request answered on a connection that may carry more.
  bool RequestDone(std::function<void()> close_idle) {
    ++uses_;
    if (ctx_.draining || UsedUp()) return false;
    between_ = true;
    idle_close_ = std::move(close_idle);
    ArmIdleTimer();
    return true;
  }

  void RequestStarted() {
    between_ = idle_expired_ = false;
    idle_close_ = nullptr;
    idle_timer_.Stop();
    Watchdog::Pat();
  }

  void HoldDone() {
    if (--holds_ == 0 && clients_ == 0 && (ctx_.draining || UsedUp())) Exit();
  }

 private:
  // Once max_use clients are done the worker takes no more; it exits when the
  // sessions it still holds have ended.
  bool UsedUp() const { return !svc_.long_running && max_use_ > 0 && uses_ >= max_use_; }

  bool WantClients() const {
    if (ctx_.draining || UsedUp()) return false;
    if (svc_.pausable && ctx_.runtime.pause_smtp) return false;
    // A wakeup request is a few bytes read on the loop: a trigger service
    // takes the next while one is still open (a client that is slow to send
    // or close must not hold the others up), and its accepting state never
    // flips per request: no status frames, no listener epoll changes.
    if (svc_.kind == Kind::kMulti || svc_.kind == Kind::kTrigger)
      return svc_.client_limit == 0 || clients_ < svc_.client_limit;
    return clients_ == 0;
  }

  // Polls the listeners exactly while this worker would take a client, and
  // tells master whenever that changes, so master starts another worker only
  // when nobody is accepting.
  void UpdateAccepting() {
    bool want = WantClients();
    for (auto& l : listeners_) {
      if (want && !l->active())
        l->Start(UV_READABLE, [this, fd = listen_fds_[&l - &listeners_[0]]](int status, int) {
          if (status == 0) Accept(fd);
        });
      else if (!want && l->active())
        l->Stop();
    }
    if (want != accepting_ || (served_once_ && !told_served_)) {
      accepting_ = want;
      told_served_ = served_once_;
      Notify(want ? ipc::WorkerState::kIdle : ipc::WorkerState::kBusy);
    }
  }

  void Notify(ipc::WorkerState state) {
    if (ctx_.draining) return;  // master no longer listens to this worker
    bool done = status_.Send({state, pid_, generation_});
    StatusWritten(done);
  }

  // What the socket could not take now goes when it is writable (libuv made
  // the shared socket non-blocking; master may be behind on a storm).
  void StatusWritten(bool done) {
    if (int err = status_.TakeError(); err != 0 && err != EPIPE)
      log::Warning("write status to master: {}", std::strerror(err));
    if (done == status_writable_wait_ && status_poll_) {
      status_writable_wait_ = !done;
      PollStatus();
    }
  }

  void PollStatus() {
    int events = UV_READABLE | UV_DISCONNECT | (status_writable_wait_ ? UV_WRITABLE : 0);
    status_poll_->Start(events, [this](int status, int events) {
      if (status == 0 && (events & UV_WRITABLE)) StatusWritten(status_.Flush());
      if (status < 0 || (events & (UV_READABLE | UV_DISCONNECT))) OnStatusReadable();
    });
  }

  // Also while the one client waits between requests: after max_idle the
  // worker closes that connection and exits.
  void ArmIdleTimer() {
    if (svc_.long_running || max_idle_ms_ == 0 || (clients_ > 0 && !between_)) return;
    idle_timer_.Start(max_idle_ms_, 0, [this] {
      if (clients_ == 0) Exit();
      idle_expired_ = true;
      CloseIdle();
    });
  }

  // The holder closes the connection unless a request already waits on it.
  void CloseIdle() {
    if (!between_ || !idle_close_) return;
    auto close = idle_close_;  // the close may reset idle_close_
    close();
  }

  void Accept(int listen_fd) {
    // After a reload master has closed our status socket before it logs the
    // reload; a client arriving after that must meet the new generation, so
    // look for the end of file before taking the client (one cheap syscall).
    if (StatusClosed()) return Drain();
    // The whole backlog while this worker takes clients, not one per wakeup:
    // a burst of connects must not wait in the kernel's queue for loop turns.
    while (!ctx_.draining && WantClients() && AcceptOne(listen_fd)) {
    }
  }

  // False when there is nobody (left) to accept.
  bool AcceptOne(int listen_fd) {
    int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) return true;  // that client gave up; there may be more
      // EAGAIN: another worker of this service was quicker, or the queue is empty.
      if (errno != EAGAIN && errno != EWOULDBLOCK) log::Warning("accept: {}", std::strerror(errno));
      return false;
    }
    ++clients_;
    served_once_ = true;
    Watchdog::Pat();
    idle_timer_.Stop();
    UpdateAccepting();
    auto stream = event::Stream::Adopt(loop_.get(), fd);
    if (!stream) {
      log::Warning("{}", stream.error());
      ClientDone(false);
      return true;
    }
    Client c{std::move(*stream), Lease(this, false), ""};
    c.peer = c.stream->PeerName();
    if (svc_.kind == Kind::kTrigger)
      ReadTrigger(std::move(c));
    else
      svc_.on_client(ctx_, std::move(c));
    return true;
  }

  // Master closes its end of the status socket when it retires this worker.
  bool StatusClosed() {
    char probe;
    return status_fd_ >= 0 && recv(status_fd_, &probe, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
  }

  // A wakeup request: read until the peer closes (master writes and closes),
  // the limit, or ipc_timeout.
  void ReadTrigger(Client c) {
    struct Pending {
      Client client;
      std::string data;
      std::unique_ptr<event::Timer> timer;
    };
    auto p = std::make_shared<Pending>();
    p->client = std::move(c);
    p->timer = std::make_unique<event::Timer>(loop_.get());
    auto finish = [this, p] {
      if (!p->client.stream) return;
      p->client.stream.reset();
      p->timer.reset();
      svc_.on_trigger(ctx_, p->data);
      p->client.lease.Release();
    };
    p->timer->Start(uint64_t(ctx_.config.Time("ipc_timeout").count()) * 1000, 0, [p, finish] {
      log::Warning("timeout reading a wakeup request");
      finish();
    });
    p->client.stream->ReadStart(
        [this, p, finish](std::string_view d) {
          p->data.append(d.substr(0, svc_.trigger_limit - p->data.size()));
          if (p->data.size() >= svc_.trigger_limit) finish();
        },
        [finish](int) { finish(); });
  }

  void OnStatusReadable() {
    char buf[64];
    ssize_t n = read(status_fd_, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n > 0) return;  // master never writes; ignore noise
    Drain();
  }

  // Requests from master are answered through this process's handler table.
  void OpenControl() {
    event::SetNonBlocking(control_fd_, true);
    auto stream = event::Stream::Adopt(loop_.get(), control_fd_);
    if (!stream) return log::Warning("control link: {}", stream.error());
    // Master's barrier: answered after every frame sent before it (state).
    ipc::control::ProcessTable().Add({"sync"}, [](const ipc::control::Request&,
                                                  std::shared_ptr<ipc::control::Reply> r) { r->Finish(); });
    // update table NAME: whatever this worker is, the tables it holds (lib/table
    // keeps the list) reread that file at their next lookup.
    ipc::control::ProcessTable().Add({"update", "table"}, [](const ipc::control::Request& req,
                                                             std::shared_ptr<ipc::control::Reply> r) {
      auto args = req.Args();
      if (args.size() != 1) return r->Fail("usage: update table NAME (type:name as in main.cf)");
      if (!table::ForceReloadNamed(args[0])) return r->Fail("table " + args[0] + " is not open in this process");
      log::Info("table {} reloaded by administrator", args[0]);
      r->Finish();
    });
    control_ = ipc::control::Link::Start(
        std::move(*stream), &ipc::control::ProcessTable(),
        {[this](const ipc::control::RuntimeState& s) { SetRuntime(s); }, [this] { control_.reset(); }});
  }

 public:
  void SetRuntime(const ipc::control::RuntimeState& s) {
    ipc::control::RuntimeState old = std::move(ctx_.runtime);
    ctx_.runtime = s;
    if (s.options != old.options) {
      // `set option`: main.cf and -o as at start, the operator's overrides last.
      ctx_.config = base_config_;
      for (const auto& [k, v] : s.options) ctx_.config.Override(k, v);
    }
    if (!verbose_) log::SetLevel(s.verbose ? log::Level::kVerbose : log::Level::kBrief);
    log::SetTraces(s.traces);
    log::SetProfiles(s.profiles);
    if (svc_.on_runtime) svc_.on_runtime(ctx_, old);
    UpdateAccepting();
  }
  void set_base_config(config::Config c) { base_config_ = std::move(c); }
  void set_control(int fd, bool verbose) {
    control_fd_ = fd;
    verbose_ = verbose;
  }

 private:
  // Master is gone or retired us: stop accepting, finish clients, exit.
  void Drain() {
    if (ctx_.draining) return;
    ctx_.draining = true;
    status_poll_.reset();
    listeners_.clear();
    for (int fd : listen_fds_) close(fd);
    listen_fds_.clear();
    if (svc_.on_drain) svc_.on_drain(ctx_);
    CloseIdle();
    if (clients_ == 0 && holds_ == 0) Exit();
  }

  [[noreturn]] void Exit() {
    log::Verbose("exiting after {} clients", uses_);
    std::exit(0);
  }

  Service svc_;
  Context ctx_;
  config::Config base_config_;  // main.cf with -o, without runtime overrides
  event::Loop loop_;
  event::Timer idle_timer_;
  std::vector<std::unique_ptr<event::Poll>> listeners_;
  std::vector<int> listen_fds_;
  std::unique_ptr<event::Poll> status_poll_;
  int status_fd_;
  ipc::StatusSender status_;
  bool status_writable_wait_ = false;  // a status frame waits for the socket
  int control_fd_ = -1;
  std::shared_ptr<ipc::control::Link> control_;
  bool verbose_ = false;
  uint32_t generation_ = 0;
  const uint32_t pid_ = uint32_t(getpid());
  long long max_use_ = 100;
  uint64_t max_idle_ms_ = 100000;
  size_t clients_ = 0;
  size_t holds_ = 0;        // Context::hold leases out
  long long uses_ = 0;      // clients done (their lease dropped)
  bool between_ = false;    // the one client's connection waits for its next request
  bool idle_expired_ = false;  // max_idle passed while it waited: exit once it is closed
  std::function<void()> idle_close_;  // how to close that connection (Lease::RequestDone)
  bool accepting_ = true;   // master counts a new worker as accepting
  bool served_once_ = false;
  bool told_served_ = false;

 public:
  void set_generation(uint32_t g) { generation_ = g; }
};

void Lease::Release() {
  if (!w_) return;
  Worker* w = w_;
  w_ = nullptr;
  if (hold_)
    w->HoldDone();
  else
    w->ClientDone(counted_);
}

bool Lease::RequestDone(std::function<void()> close_idle) {
  if (!w_ || hold_) return false;
  counted_ = true;
  return w_->RequestDone(std::move(close_idle));
}

void Lease::RequestStarted() {
  counted_ = false;
  if (w_) w_->RequestStarted();
}

namespace {

[[noreturn]] void Usage(std::string_view program, std::string_view why) {
  log::InitCommand(program);
  log::Fatal("{}; this program is started by master (see master(8))", why);
}

// Skeleton options; the rest is the service's, in order.
Options ParseArgs(std::string_view program, int argc, char** argv, Context* ctx, uint32_t* gen) {
  Options o;
  bool operands = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    // As Postfix's daemons (getopt "+..."): options end at the first other
    // argument; the rest is the service's, such as pipe's argv=... -o x.
    if (operands || a.empty() || a[0] != '-') {
      operands = true;
      ctx->args.emplace_back(a);
      continue;
    }
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) Usage(program, std::string(a) + " needs a value");
      return argv[++i];
    };
    unsigned long long n = 0;
    if (a == "-c") {
      o.config_dir = value();
    } else if (a == "-n") {
      ctx->service = value();
    } else if (a == "-t") {
      ctx->type = value();
    } else if (a == "-s") {
      if (!ParseUnsigned(value(), &n) || n > 1000) Usage(program, "bad -s value");
      o.listen_count = int(n);
    } else if (a == "-g") {
      if (!ParseUnsigned(value(), &n) || n > 0xffffffffull) Usage(program, "bad -g value");
      *gen = uint32_t(n);
    } else if (a == "-v") {
      o.verbose = true;
    } else if (a == "-k") {
      o.control = true;
    } else if (a == "-e") {
      o.last_words = true;
    } else if (a == "-u") {
      std::string_view v = value();
      size_t colon = v.find(':');
      unsigned long long uid = 0, gid = 0;
      if (colon == v.npos || !ParseUnsigned(v.substr(0, colon), &uid) || !ParseUnsigned(v.substr(colon + 1), &gid) ||
          uid > 0xffffffffull || gid > 0xffffffffull)
        Usage(program, "bad -u value (uid:gid)");
      o.drop_to = std::pair{uid_t(uid), gid_t(gid)};
    } else if (a == "-o" || (a.size() > 2 && a.substr(0, 2) == "-o" && a.find('=') != a.npos)) {
      std::string_view kv = a == "-o" ? value() : a.substr(2);
      size_t eq = kv.find('=');
      if (eq == kv.npos) Usage(program, "bad -o value: " + std::string(kv));
      o.overrides.emplace_back(std::string(Trim(kv.substr(0, eq))), std::string(Trim(kv.substr(eq + 1))));
    } else {
      ctx->args.emplace_back(a);
    }
  }
  if (o.listen_count < 0) Usage(program, "missing -s listen_count");
  return o;
}

}  // namespace

void LogOptionsAdopted(const Context& ctx, const ipc::control::RuntimeState& old) {
  for (const auto& [k, v] : ctx.runtime.options)
    if (auto it = old.options.find(k); it == old.options.end() || it->second != v)
      log::Info("runtime option {} = {} adopted", k, v);
}

int Run(std::string_view program, int argc, char** argv, Service svc) {
  signal(SIGPIPE, SIG_IGN);
  Context ctx;
  uint32_t generation = 0;
  Options o = ParseArgs(program, argc, argv, &ctx, &generation);
  if (o.last_words) {
    int fd = kFirstListenFd + o.listen_count + 1 + (o.control ? 1 : 0);
    if (fcntl(fd, F_GETFD) >= 0) {
      event::SetCloseOnExec(fd, true);
      log::SetFatalFd(fd);
    }
  }
  auto cfg = config::Config::Load(config::ConfigDir(o.config_dir));
  if (!cfg) {
    log::InitCommand(program);
    log::Fatal("{}", cfg.error());
  }
  ctx.config = std::move(*cfg);
  ctx.program = std::string(program);
  // As Postfix's master: $service_name names the master.cf service (Debian's
  // relay service logs as syslog_name=postfix/$service_name).
  if (!ctx.service.empty()) ctx.config.Override("service_name", ctx.service);
  for (auto& [k, v] : o.overrides) ctx.config.Override(k, v);
  config::Config base_config = ctx.config;
  // The runtime state as master last wrote it (master's link keeps it
  // current); `set option` overrides come last, over main.cf and -o.
  auto runtime = ipc::control::LoadState(ipc::control::StatePath(ctx.config));
  if (runtime) {
    ctx.runtime = std::move(*runtime);
    for (auto& [k, v] : ctx.runtime.options) ctx.config.Override(k, v);
  }
  log::InitDaemon(program, ctx.config);
  if (!runtime) log::Warning("{}", runtime.error());
  if (o.verbose || ctx.runtime.verbose) log::SetLevel(log::Level::kVerbose);
  log::SetTraces(ctx.runtime.traces);
  log::SetProfiles(ctx.runtime.profiles);
  for (const auto& p : ctx.config.Validate())
    if (!p.warning) log::Fatal("{}", p.text);

  std::vector<int> fds;
  for (int i = 0; i <= o.listen_count + (o.control ? 1 : 0); ++i) {
    if (fcntl(kFirstListenFd + i, F_GETFD) < 0)
      log::Fatal("descriptor {} not inherited; this program is started by master", kFirstListenFd + i);
    event::SetCloseOnExec(kFirstListenFd + i, true);
    if (i < o.listen_count) fds.push_back(kFirstListenFd + i);
  }
  if ((svc.kind == Kind::kTrigger && !svc.on_trigger) || (svc.kind != Kind::kTrigger && !svc.on_client))
    log::Fatal("service has no handler for its kind");
  // The worker lives until exit(); a heap object keeps it off the stack of
  // callbacks that call exit() from inside the loop.
  auto* w = new Worker(std::move(svc), std::move(ctx), std::move(fds), kFirstListenFd + o.listen_count);
  w->set_generation(generation);
  w->set_base_config(std::move(base_config));
  if (o.control) w->set_control(kFirstListenFd + o.listen_count + 1, o.verbose);
  return w->Main(o.drop_to);
}

}  // namespace postern::server
