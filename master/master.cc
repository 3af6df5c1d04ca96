// master/master.cc — services, spawning, status, throttling, wakeup, reload
// and stop; see master.h. Workers are started with uv_spawn, which also reaps
// them, and inherit fds 0-2, the service's listeners at 3.., the status
// socket and their control link after them (server.h describes the worker
// side; control.h the control channel).
#include "master/master.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "postern/config/compat.h"
#include "postern/ipc/trigger.h"
#include "postern/log/log.h"

extern char** environ;

namespace postern::master {

namespace {

// A worker that exits cleanly sooner than this without serving anyone is
// treated as a failed start (max_idle is counted in whole seconds).
constexpr uint64_t kMinUnservedLifeMs = 1000;

// import_environment: NAME copies master's value, NAME=value sets one.
std::vector<std::string> WorkerEnv(const config::Config& cfg) {
  std::vector<std::string> env;
  for (const auto& item : cfg.List("import_environment")) {
    if (item.find('=') != std::string::npos) {
      env.push_back(item);
    } else if (const char* v = getenv(item.c_str())) {
      env.push_back(item + "=" + v);
    }
  }
  return env;
}

std::vector<char*> CStrings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

Master::Master(uv_loop_t* loop, std::string config_dir) : loop_(loop), config_dir_(std::move(config_dir)) {
  control_ = std::make_unique<Control>(loop_, Control::Hooks{[this] { return ControlWorkers(); },
                                                              [this] {
                                                                for (auto& s : services_) UpdatePolls(*s);
                                                              },
                                                              [this] { return ControlServices(); }});
  SetControl(control_.get());
}

// Live workers of the current generation, for the control relays.
std::vector<WorkerRef> Master::ControlWorkers() const {
  std::vector<WorkerRef> out;
  for (const auto& [pid, p] : procs_)
    if (p->svc && p->ctl) out.push_back({pid, p->svc->def.command, p->svc->def.Key(), p->ctl});
  return out;
}

// Each service's workers of the current generation: busy (serving, not
// accepting) and idle, as master's status socket last told it.
std::vector<ServiceLoad> Master::ControlServices() const {
  std::vector<ServiceLoad> out;
  for (const auto& s : services_)
    out.push_back({s->def.service, s->def.type, s->def.command, s->total - s->avail, s->avail, s->maxproc});
  return out;
}

// `postern pause smtp`: smtpd services take no new sessions, and master
// must not start another worker for the clients that wait.
bool Master::Paused(const Service& s) const {
  return control_->state().pause_smtp && s.def.command == "smtpd";
}

Result<std::unique_ptr<Service>> Master::BuildService(const config::MasterService& def,
                                                      std::map<std::string, std::shared_ptr<Listener>>* pool) {
  auto s = std::make_unique<Service>();
  s->def = def;
  s->path = cfg_.Str("daemon_directory") + "/" + def.command;
  s->maxproc = def.maxproc ? *def.maxproc : int(cfg_.Int("default_process_limit"));
  auto addrs = ResolveListen(def, cfg_);
  if (!addrs) return Err(addrs.error());
  int backlog = ListenBacklog(def, cfg_, SystemMaxBacklog());
  for (const auto& a : *addrs) {
    if (auto it = pool->find(a.key); it != pool->end()) {
      s->listeners.push_back(it->second);  // unchanged: stays open across the reload
      // listen(2) again on a listening socket takes the new queue length.
      if (listen(it->second->fd.get(), backlog) != 0)
        log::Warning("service {}: listen {}: {}", def.Key(), a.key, std::strerror(errno));
      continue;
    }
    auto fd = OpenListener(a, backlog);
    if (!fd) return Err("service " + def.Key() + ": " + fd.error());
    if (!fd->valid()) {
      log::Warning("service {}: no IPv6 on this host; skipping {}", def.Key(), a.key);
      continue;
    }
    auto l = std::make_shared<Listener>();
    l->addr = a;
    l->fd = std::move(*fd);
    l->poll = std::make_unique<event::Poll>(loop_, l->fd.get());
    (*pool)[a.key] = l;
    s->listeners.push_back(l);
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return Err(std::string("status socket: ") + std::strerror(errno));
  s->status_fd.Reset(sv[0]);
  s->worker_status_fd.Reset(sv[1]);
  event::SetNonBlocking(sv[0], true);
  return s;
}

Result<void> Master::Configure(config::Config cfg, const std::vector<config::MasterService>& defs) {
  for (const auto& p : cfg.Validate())
    if (!p.warning) return Err(p.text);
  auto owner = ResolveOwner(cfg);
  if (!owner) return Err(owner.error());
  if (auto r = MakeQueueTree(cfg, *owner); !r) return r;
  config::Config old_cfg = std::move(cfg_);
  cfg_ = std::move(cfg);
  // Listeners of the current services, by address, for reuse.
  std::map<std::string, std::shared_ptr<Listener>> pool;
  for (auto& s : services_)
    for (auto& l : s->listeners) pool[l->addr.key] = l;
  std::vector<std::unique_ptr<Service>> fresh;
  for (const auto& written : defs) {
    config::ServicePlan plan = config::PlanService(written);
    if (!plan.run) {
      log::Info("service {}: {}; not started", written.Key(), plan.note);
      continue;
    }
    auto s = BuildService(plan.def, &pool);
    if (!s) {
      cfg_ = std::move(old_cfg);
      return Err(s.error());
    }
    fresh.push_back(std::move(*s));
  }
  owner_ = *owner;
  env_ = WorkerEnv(cfg_);
  PrepareLogFile(cfg_, owner_);
  RetireAll();
  ++generation_;
  services_ = std::move(fresh);
  if (generation_ == 1) {
    if (auto r = control_->Open(cfg_, owner_); !r) return r;
  } else {
    control_->Reloaded(cfg_, owner_);
  }
  for (auto& s : services_) {
    Service* sp = s.get();
    s->status_poll = std::make_unique<event::Poll>(loop_, s->status_fd.get());
    s->status_poll->Start(UV_READABLE, [this, sp](int, int) { OnStatus(*sp); });
    if (s->def.wakeup > 0) {
      if (s->def.type != "unix") {
        log::Warning("service {}: wakeup is supported for unix services only; ignored", s->def.Key());
      } else {
        s->wakeup_timer = std::make_unique<event::Timer>(loop_);
        // As Postfix's master_wakeup_init: the first wakeup comes at once
        // (qmgr starts with the system), except for "N?" services.
        uint64_t ms = uint64_t(s->def.wakeup) * 1000;
        s->wakeup_timer->Start(s->def.wakeup_if_used ? ms : 0, ms, [this, sp] { Wakeup(*sp); });
      }
    }
    UpdatePolls(*s);
  }
  return {};
}

// Old workers keep serving what they hold; closing the service's status
// socket (when the Service goes) tells them to stop accepting and exit.
void Master::RetireAll() {
  for (auto& s : services_)
    for (auto& l : s->listeners) l->poll->Stop();
  for (auto& [pid, p] : procs_) p->svc = nullptr;
  services_.clear();
}

void Master::Start() {
  signal(SIGPIPE, SIG_IGN);
  auto add = [this](int signo, std::function<void()> fn) {
    signals_.push_back(std::make_unique<event::Signal>(loop_, signo, std::move(fn)));
  };
  add(SIGHUP, [this] { Reload(); });
  add(SIGTERM, [this] { Stop(SIGTERM); });
  add(SIGINT, [this] { Abort(SIGINT); });
  add(SIGQUIT, [this] { Abort(SIGQUIT); });
}

void Master::UpdatePolls(Service& s) {
  bool want = !stopping_ && !s.throttled && !Paused(s) && s.avail == 0 && (s.maxproc == 0 || s.total < s.maxproc);
  for (auto& l : s.listeners) {
    if (want && !l->poll->active()) {
      Service* sp = &s;
      l->poll->Start(UV_READABLE, [this, sp](int status, int) {
        if (status == 0 && sp->avail == 0) Spawn(*sp);
      });
    } else if (!want && l->poll->active()) {
      l->poll->Stop();
    }
  }
}

void Master::Spawn(Service& s) {
  if (stopping_ || s.throttled || Paused(s) || (s.maxproc > 0 && s.total >= s.maxproc)) return;
  // The worker's control link (control.h) is inherited right after the status socket.
  int cv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cv) != 0) {
    log::Warning("{}: control socket: {} -- throttling", s.path, std::strerror(errno));
    return Throttle(s);
  }
  Fd ctl_master(cv[0]), ctl_worker(cv[1]);
  int lw[2];
  if (pipe2(lw, O_CLOEXEC | O_NONBLOCK) != 0) {
    log::Warning("{}: pipe: {} -- throttling", s.path, std::strerror(errno));
    return Throttle(s);
  }
  Fd words_master(lw[0]), words_worker(lw[1]);
  std::vector<std::string> args = {s.path, "-c", config_dir_, "-n", s.def.service, "-t", s.def.type,
                                   "-s", std::to_string(s.listeners.size()), "-g", std::to_string(generation_),
                                   "-k", "-e"};
  // Run as root, an unprivileged worker drops to mail_owner itself once it
  // has read what only root may read (smtpd's TLS key; see server.h).
  if (owner_.root && s.def.IsUnprivileged())
    args.insert(args.end(), {"-u", std::to_string(owner_.uid) + ":" + std::to_string(owner_.gid)});
  args.insert(args.end(), s.def.args.begin(), s.def.args.end());
  auto argv = CStrings(args);
  auto envp = CStrings(env_);
  std::vector<uv_stdio_container_t> stdio(3 + s.listeners.size() + 3);
  for (size_t i = 0; i < stdio.size(); ++i) {
    stdio[i].flags = UV_INHERIT_FD;
    stdio[i].data.fd = int(i);  // 0-2: master's own
  }
  for (size_t i = 0; i < s.listeners.size(); ++i) stdio[3 + i].data.fd = s.listeners[i]->fd.get();
  stdio[stdio.size() - 3].data.fd = s.worker_status_fd.get();
  stdio[stdio.size() - 2].data.fd = ctl_worker.get();
  stdio.back().data.fd = words_worker.get();

  std::string cwd = cfg_.Str("queue_directory");
  uv_process_options_t o{};
  o.exit_cb = OnExit;
  o.file = args[0].c_str();
  o.args = argv.data();
  o.env = envp.data();
  o.cwd = cwd.c_str();
  o.stdio_count = int(stdio.size());
  o.stdio = stdio.data();
  auto p = std::make_unique<Proc>();
  p->handle.get()->data = this;
  int rc = uv_spawn(loop_, p->handle.get(), &o);
  if (rc != 0) {
    log::Warning("{}: cannot start: {} -- throttling", s.path, uv_strerror(rc));
    Throttle(s);
    return;
  }
  p->pid = p->handle.get()->pid;
  p->started_ms = uv_now(loop_);
  p->svc = &s;
  p->path = s.path;
  p->last_words = std::move(words_master);
  p->ctl = WorkerLink::Open(loop_, std::move(ctl_master),
                            s.def.command + " (pid " + std::to_string(p->pid) + ", service " + s.def.Key() + ")");
  s.used = true;
  ++s.total;
  ++s.avail;
  log::Verbose("spawned {} pid {}", s.path, p->pid);
  procs_[p->pid] = std::move(p);
  UpdatePolls(s);
}

void Master::OnExit(uv_process_t* p, int64_t status, int signo) {
  if (auto* self = static_cast<Master*>(p->data)) self->Reap(p->pid, status, signo);
}

void Master::Reap(pid_t pid, int64_t status, int signo) {
  auto it = procs_.find(pid);
  if (it == procs_.end()) return;
  // A worker may have said "busy" just before it died: read that first, or
  // a worker killed during its first client would look like a bad start-up.
  if (Service* s = it->second->svc) OnStatus(*s);
  it = procs_.find(pid);
  if (it == procs_.end()) return;
  std::unique_ptr<Proc> p = std::move(it->second);
  procs_.erase(it);
  if (p->ctl) p->ctl->Close();  // its pending control requests fail now
  if (signo != 0)
    log::Warning("process {} pid {} killed by signal {}", p->path, pid, signo);
  else if (status != 0)
    log::Warning("process {} pid {} exit status {}", p->path, pid, status);
  if (Service* s = p->svc) {
    --s->total;
    if (p->avail) --s->avail;
    // Died before it served anyone: likely to fail again at once. A clean
    // exit that quick means a command that is no postern worker; starting
    // it again for the waiting client would loop as fast as fork allows.
    bool abnormal = signo != 0 || status != 0;
    bool instant = uv_now(loop_) - p->started_ms < kMinUnservedLifeMs;
    if (!p->served && !s->throttled && !stopping_ && (abnormal || instant)) {
      if (!abnormal) log::Warning("process {} pid {} exited before serving a client", p->path, pid);
      log::Warning("{}: bad command startup -- throttling: {}", s->path, ExitReason(*p, status, signo));
      Throttle(*s);
    }
    UpdatePolls(*s);
  }
  MaybeFinish();
}

// The worker's fatal line when it wrote one, else how it ended.
std::string Master::ExitReason(Proc& p, int64_t status, int signo) {
  std::string words;
  char buf[1024];
  ssize_t n;
  while (p.last_words.valid() && (n = read(p.last_words.get(), buf, sizeof buf)) > 0) words.append(buf, size_t(n));
  while (!words.empty() && words.back() == '\n') words.pop_back();
  if (size_t nl = words.rfind('\n'); nl != std::string::npos) words.erase(0, nl + 1);
  if (!words.empty()) return words;
  if (signo != 0) return "killed by signal " + std::to_string(signo);
  return "exit status " + std::to_string(status);
}

void Master::Throttle(Service& s) {
  s.throttled = true;
  if (!s.throttle_timer) s.throttle_timer = std::make_unique<event::Timer>(loop_);
  Service* sp = &s;
  s.throttle_timer->Start(uint64_t(cfg_.Time("service_throttle_time").count()) * 1000, 0, [this, sp] {
    sp->throttled = false;
    UpdatePolls(*sp);
  });
  UpdatePolls(s);
}

void Master::OnStatus(Service& s) {
  char buf[4096];
  while (true) {
    ssize_t n = read(s.status_fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    s.reader.Feed(std::string_view(buf, size_t(n)));
  }
  std::string payload;
  ipc::FrameReader::Status st;
  while ((st = s.reader.Next(&payload)) == ipc::FrameReader::Status::kFrame) {
    auto m = ipc::DecodeStatus(payload);
    if (!m) {
      log::Warning("service {}: malformed status message", s.def.Key());
      continue;
    }
    auto it = procs_.find(pid_t(m->pid));
    // Messages of workers of an earlier generation are no longer counted.
    if (it == procs_.end() || it->second->svc != &s || m->generation != generation_) continue;
    Proc& p = *it->second;
    p.served = true;
    bool avail = m->state == ipc::WorkerState::kIdle;
    if (avail != p.avail) {
      p.avail = avail;
      s.avail += avail ? 1 : -1;
    }
  }
  if (st == ipc::FrameReader::Status::kTooLong) {
    log::Warning("service {}: garbled status stream; resetting", s.def.Key());
    s.reader = ipc::FrameReader(ipc::kStatusPayloadMax);
  }
  UpdatePolls(s);
}

// Postfix's wakeup: connect to the service's socket and write "W". A worker
// is started for it like for any client.
void Master::Wakeup(Service& s) {
  if (s.def.wakeup_if_used && !s.used) return;
  if (s.listeners.empty()) return;
  const std::string& path = s.listeners[0]->addr.path;
  int err = 0;
  // A full backlog (EAGAIN) means the service has plenty to do already.
  if (auto r = ipc::Trigger(path, {&ipc::kWakeup, 1}, ipc::Wait::kNever, &err); !r && err != EAGAIN)
    log::Warning("wakeup: {}", r.error());
}

void Master::Reload() {
  if (stopping_) return;
  auto cfg = config::Config::Load(config_dir_);
  if (!cfg) {
    log::Warning("reload: {}; keeping the running configuration", cfg.error());
    return;
  }
  auto defs = config::LoadMasterCf(config_dir_);
  if (!defs) {
    log::Warning("reload: {}; keeping the running configuration", defs.error());
    return;
  }
  log::Reconfigure(*cfg);
  if (auto r = Configure(std::move(*cfg), *defs); !r) {
    log::Warning("reload: {}; keeping the running configuration", r.error());
    log::Reconfigure(cfg_);
    return;
  }
  log::Info("reload -- version {}, configuration {}", cfg_.Str("mail_version"), config_dir_);
}

void Master::Stop(int signo) {
  if (stopping_) return;
  log::Info("terminating on signal {}", signo);
  stopping_ = true;
  RetireAll();
  if (procs_.empty()) return MaybeFinish();
  auto grace = cfg_.Time("stop_grace_time");
  grace_timer_ = std::make_unique<event::Timer>(loop_);
  grace_timer_->Start(uint64_t(grace.count()) * 1000, 0, [this, grace] {
    log::Warning("{} workers still busy after stop_grace_time ({}s); killing them", procs_.size(), grace.count());
    for (auto& [pid, p] : procs_) kill(pid, SIGKILL);
  });
}

void Master::Abort(int signo) {
  log::Info("terminating on signal {}", signo);
  for (auto& [pid, p] : procs_) kill(pid, SIGTERM);
  std::exit(0);
}

void Master::MaybeFinish() {
  if (!stopping_ || !procs_.empty()) return;
  std::exit(0);
}

}  // namespace postern::master
