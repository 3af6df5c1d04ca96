// master/control.h — master's end of the control channel (ipc/control.h has
// the design): the public/control socket, the runtime state, the links to
// every worker, and the relay handlers that master/control_*.cc files use.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "master/setup.h"
#include "postern/config/maincf.h"
#include "postern/event/event.h"
#include "postern/ipc/control.h"
#include "postern/ipc/frame.h"
#include "postern/util/result.h"

namespace postern::master {

// Master's side of one worker's control link: each request gets an id, and
// the worker's frames, interleaved, say which call they answer. A worker
// that leaves calls without a single frame for control_timeout fails them.
class WorkerLink : public std::enable_shared_from_this<WorkerLink> {
 public:
  struct Call {
    std::function<void(std::string_view text)> on_text;
    std::function<void(const ipc::control::End&)> on_end;
    bool cancelled = false;  // no longer wanted: its frames are dropped
    bool paused = false;     // its client lags: the worker was told to wait
  };
  // label names the worker in errors ("qmgr (pid 123)").
  static std::shared_ptr<WorkerLink> Open(uv_loop_t* loop, Fd fd, std::string label = "the worker");
  std::shared_ptr<Call> Send(const std::vector<std::string>& words, std::function<void(std::string_view)> on_text,
                             std::function<void(const ipc::control::End&)> on_end);
  // The response is no longer wanted: the worker is told to stop, output dropped.
  void Cancel(const std::shared_ptr<Call>& call);
  void SendState(const ipc::control::RuntimeState& s);
  // Backpressure from one call's client: the worker holds that answer back
  // (its other calls go on).
  void Pause(const std::shared_ptr<Call>& call, bool pause);
  void Close();

 private:
  void StartReading();
  void OnData(std::string_view d);
  void Fail(const std::string& why);
  void Write(std::string frame);
  void ArmTimer();
  void TimedOut();
  std::unique_ptr<event::Stream> stream_;
  std::unique_ptr<event::Timer> timer_;  // runs while calls wait and we read
  std::string label_;
  ipc::FrameReader reader_{ipc::control::kFrameMax};
  std::map<uint32_t, std::shared_ptr<Call>> calls_;  // by request id, until their end frame
  uint32_t next_id_ = 1;
  bool reading_ = false, closed_ = false;
};

// A live worker, as the relays see it.
struct WorkerRef {
  pid_t pid = 0;
  std::string command;  // master.cf command: "qmgr", "smtpd", "smtp"
  std::string service;  // master.cf service key
  std::shared_ptr<WorkerLink> link;
};

// One master.cf service and its workers now, for `show processes`.
struct ServiceLoad {
  std::string service, type, command;  // master.cf columns
  int busy = 0, idle = 0;              // live workers of the current generation
  int limit = 0;                       // maxproc; 0: no limit
};

class Control {
 public:
  struct Hooks {
    std::function<std::vector<WorkerRef>()> workers;  // current generation only
    std::function<void()> state_changed;              // e.g. re-evaluate paused listeners
    std::function<std::vector<ServiceLoad>()> services;  // in master.cf order
  };
  Control(uv_loop_t* loop, Hooks hooks) : loop_(loop), hooks_(std::move(hooks)) {}
  // (Re)opens $queue_directory/public/control and writes the state file.
  Result<void> Open(const config::Config& cfg, const Owner& owner);
  // After a reload: option overrides end, the rest stays.
  void Reloaded(const config::Config& cfg, const Owner& owner);

  const ipc::control::RuntimeState& state() const { return state_; }
  // Changes the state, saves it and tells every live worker.
  void Update(const std::function<void(ipc::control::RuntimeState&)>& change);
  std::vector<WorkerRef> Workers() const { return hooks_.workers(); }
  std::vector<ServiceLoad> Services() const { return hooks_.services ? hooks_.services() : std::vector<ServiceLoad>{}; }
  uv_loop_t* loop() const { return loop_; }
  const config::Config& config() const { return *cfg_; }

 private:
  void Accept();
  void Save();
  uv_loop_t* loop_;
  Hooks hooks_;
  const config::Config* cfg_ = nullptr;
  Owner owner_;
  std::string path_;
  Fd listen_fd_;
  std::unique_ptr<event::Poll> poll_;
  ipc::control::RuntimeState state_;
};

// The one Control of this master, for handlers (set by Master).
Control& TheControl();
void SetControl(Control* c);

// Relay handlers for registrations in master/control_*.cc:
//   static ipc::control::Registration r({"show", "queue"}, RelayToQmgr());
ipc::control::Handler RelayToQmgr();
// Sends the request to every live worker whose master.cf command is
// `command` ("" = all workers) and streams their output one after another.
// kAll: the answer fails when one fails; kAny: it succeeds when one succeeds
// (kill session: only the worker holding it can).
// kAny with `none_needed`: when no worker succeeds and none_needed(words)
// says that is fine (update table: no running worker holds the table, the
// next one to open it reads it fresh), the answer is still a success.
enum class Aggregate { kAll, kAny };
ipc::control::Handler Broadcast(std::string command, Aggregate how,
                                std::function<bool(const std::vector<std::string>&)> none_needed = nullptr);

}  // namespace postern::master
