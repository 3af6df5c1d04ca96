// master/master.h — the process manager: one entry per master.cf service,
// its listeners, its status socket and its workers. Workers are started only
// when a listener has work and none of the service's workers is accepting.
#pragma once

#include <uv.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "master/control.h"
#include "master/listen.h"
#include "master/setup.h"
#include "postern/config/maincf.h"
#include "postern/config/mastercf.h"
#include "postern/event/event.h"
#include "postern/ipc/frame.h"
#include "postern/ipc/status.h"
#include "postern/util/result.h"

namespace postern::master {

struct Listener {
  ListenAddress addr;
  Fd fd;
  std::unique_ptr<event::Poll> poll;
};

struct Service {
  config::MasterService def;
  std::string path;  // daemon_directory/command
  int maxproc = 0;   // 0: no limit
  std::vector<std::shared_ptr<Listener>> listeners;
  Fd status_fd;         // master's end of the status socket
  Fd worker_status_fd;  // the end every worker of this service inherits
  std::unique_ptr<event::Poll> status_poll;
  ipc::FrameReader reader{ipc::kStatusPayloadMax};
  int total = 0;  // live workers of this generation
  int avail = 0;  // of those, accepting clients
  bool throttled = false;
  bool used = false;  // a worker was ever started (for wakeup "N?")
  std::unique_ptr<event::Timer> throttle_timer;
  std::unique_ptr<event::Timer> wakeup_timer;
};

struct Proc {
  pid_t pid = 0;
  Service* svc = nullptr;  // nullptr once retired by a reload or stop
  std::string path;
  bool avail = true;    // a new worker counts as accepting until it says otherwise
  bool served = false;  // it reported a status change, which it does only after a client
  uint64_t started_ms = 0;  // loop time at spawn
  event::Handle<uv_process_t> handle;
  std::shared_ptr<WorkerLink> ctl;  // its control link (control.h)
  Fd last_words;  // read end of the pipe its fatal line goes to (log::SetFatalFd)
};

class Master {
 public:
  Master(uv_loop_t* loop, std::string config_dir);
  // Applies a configuration: opens (or keeps) listeners, replaces services.
  // Nothing changes when it fails.
  Result<void> Configure(config::Config cfg, const std::vector<config::MasterService>& defs);
  // Signal handlers; call once after the first Configure.
  void Start();
  const config::Config& config() const { return cfg_; }

 private:
  Result<std::unique_ptr<Service>> BuildService(const config::MasterService& def,
                                                std::map<std::string, std::shared_ptr<Listener>>* pool);
  void UpdatePolls(Service& s);
  void Spawn(Service& s);
  static void OnExit(uv_process_t* p, int64_t status, int signo);
  void Reap(pid_t pid, int64_t status, int signo);
  void Throttle(Service& s);
  static std::string ExitReason(Proc& p, int64_t status, int signo);
  void OnStatus(Service& s);
  void Wakeup(Service& s);
  void RetireAll();
  void Reload();
  void Stop(int signo);
  void Abort(int signo);
  void MaybeFinish();
  std::vector<WorkerRef> ControlWorkers() const;
  std::vector<ServiceLoad> ControlServices() const;
  bool Paused(const Service& s) const;

  uv_loop_t* loop_;
  std::string config_dir_;
  config::Config cfg_;
  Owner owner_;
  uint32_t generation_ = 0;
  std::vector<std::string> env_;
  std::vector<std::unique_ptr<Service>> services_;
  std::map<pid_t, std::unique_ptr<Proc>> procs_;
  std::vector<std::unique_ptr<event::Signal>> signals_;
  std::unique_ptr<event::Timer> grace_timer_;
  bool stopping_ = false;
  std::unique_ptr<Control> control_;
};

}  // namespace postern::master
