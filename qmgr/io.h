// qmgr/io.h — the queue manager's two doors to the world, small interfaces so that
// each part can be tested with fakes: the queue (reads, updates, removals) and the
// calls to transports and to bounce (one ipc::Call type underneath). io.cc has the real ones.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "postern/event/event.h"
#include "postern/ipc/bounce.h"
#include "postern/ipc/call.h"
#include "postern/ipc/delivery.h"
#include "postern/queue/queue.h"

namespace postern::qmgr {

class Store {
 public:
  using Change = std::pair<queue::EnvId, queue::EnvelopeUpdate>;
  virtual ~Store() = default;
  virtual queue::Outcome<std::vector<queue::Envelope>> ListScheduled(queue::ScheduleCursor* cursor, int64_t until,
                                                                      size_t limit) = 0;
  virtual queue::Outcome<queue::MessageRecord> GetMessage(queue::MsgId id) = 0;
  // One transaction each; out[i] is change i's status.
  virtual std::vector<queue::Status> UpdateMany(std::span<const Change> changes) = 0;
  // `gone` receives the messages whose last envelope went.
  virtual std::vector<queue::Status> RemoveMany(std::span<const queue::EnvId> ids, std::vector<queue::MsgId>* gone) = 0;
  virtual queue::Status SetMessageFlags(queue::MsgId id, uint32_t add) = 0;
  virtual queue::Status MarkCorrupt(queue::MsgId id, std::string_view why) = 0;
  // Upkeep: the space reserve, stale readers, and active envelopes of a dead
  // qmgr (looked for only when the queue holds more active ones than `in_core`).
  virtual void KeepReserve() = 0;
  virtual void Housekeep(size_t in_core) = 0;
};

class Calls {
 public:
  // A call in progress; the owner keeps it until its end callback ran.
  struct Pending {
    virtual ~Pending() = default;
  };
  using OnResult = std::function<void(const ipc::DeliveryResult&)>;
  using OnConnection = std::function<void(const ipc::ConnectionFact&)>;
  using OnEnd = ipc::Call::OnEnd;
  using OnAnswer = std::function<void(const ipc::BounceAnswer&)>;
  virtual ~Calls() = default;
  // A delivery request to private/<req.transport>; nullptr with *failure and
  // *why when it cannot connect. on_result per result and on_connection per
  // connection fact, then on_end once.
  virtual std::unique_ptr<Pending> Deliver(const ipc::DeliveryRequest& req, OnResult on_result,
                                           OnConnection on_connection, OnEnd on_end, ipc::Call::Failure* failure,
                                           std::string* why) = 0;
  // A notice request to private/bounce: on_answer exactly once, never from inside Notify.
  virtual std::unique_ptr<Pending> Notify(const ipc::BounceRequest& req, OnAnswer on_answer) = 0;
  // Retirement: closes the connections that wait for a next request.
  virtual void CloseIdle() {}
};

// The LMDB queue.
class QueueStore : public Store {
 public:
  explicit QueueStore(queue::Queue& q) : q_(q) {}
  queue::Outcome<std::vector<queue::Envelope>> ListScheduled(queue::ScheduleCursor* cursor, int64_t until,
                                                              size_t limit) override;
  queue::Outcome<queue::MessageRecord> GetMessage(queue::MsgId id) override { return q_.GetMessage(id); }
  std::vector<queue::Status> UpdateMany(std::span<const Change> changes) override { return q_.UpdateMany(changes); }
  std::vector<queue::Status> RemoveMany(std::span<const queue::EnvId> ids, std::vector<queue::MsgId>* gone) override {
    return q_.RemoveMany(ids, gone);
  }
  queue::Status SetMessageFlags(queue::MsgId id, uint32_t add) override { return q_.SetMessageFlags(id, add); }
  queue::Status MarkCorrupt(queue::MsgId id, std::string_view why) override { return q_.MarkCorrupt(id, why); }
  void KeepReserve() override { q_.KeepReserve(); }
  void Housekeep(size_t in_core) override;

 private:
  queue::Queue& q_;
};

// Unix-socket calls to the services under $queue_directory/private. A
// transport connection whose agent keeps it waits in a pool per transport
// and carries the next request to that transport (no connect, accept or
// worker wake-up per delivery); the agent closes it after max_idle or max_use.
class SocketCalls : public Calls {
 public:
  SocketCalls(uv_loop_t* loop, std::string private_dir);
  std::unique_ptr<Pending> Deliver(const ipc::DeliveryRequest& req, OnResult on_result, OnConnection on_connection,
                                   OnEnd on_end, ipc::Call::Failure* failure, std::string* why) override;
  std::unique_ptr<Pending> Notify(const ipc::BounceRequest& req, OnAnswer on_answer) override;
  void CloseIdle() override;

  // For DeliveryCall (io.cc): a kept connection in and out of the pool, and
  // a dropped one destroyed on the next loop turn (we may be in its callback).
  std::unique_ptr<ipc::Call> Take(const std::string& transport);
  void Park(const std::string& transport, std::unique_ptr<ipc::Call> call);
  void Bury(std::unique_ptr<ipc::Call> call);
  std::unique_ptr<ipc::Call> Connect(const std::string& transport, ipc::Call::Failure* failure, std::string* why);
  uv_loop_t* loop() const { return loop_; }

 private:
  uv_loop_t* loop_;
  std::string dir_;
  std::map<std::string, std::vector<std::unique_ptr<ipc::Call>>> idle_;
  std::vector<std::unique_ptr<ipc::Call>> dead_;
  event::Timer reaper_;
};

}  // namespace postern::qmgr
