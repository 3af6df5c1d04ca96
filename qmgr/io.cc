// qmgr/io.cc — the real queue and the real calls behind qmgr's interfaces (io.h).
#include "qmgr/io.h"

#include "postern/event/event.h"
#include "postern/log/log.h"
#include "postern/queue/ids.h"

namespace postern::qmgr {

namespace {

// How long bounce may take to queue a notice (it reads the original and syncs).
constexpr uint64_t kBounceTimeoutMs = 60'000;

struct SocketCall : Calls::Pending {
  std::unique_ptr<ipc::Call> call;
  std::unique_ptr<event::Timer> failed;  // a call that could not connect answers on the next turn
};

// How soon to connect again when a transport's listen backlog was full.
constexpr uint64_t kBusyRetryMs = 100;

// One delivery request, on a pooled connection when one waits. A pooled
// connection that its agent had closed before reading the request
// (Call::End::kNotTaken) is no failure: the request goes out again on a
// fresh connection, once. Anything else is reported as it happened.
struct DeliveryCall : Calls::Pending {
  DeliveryCall(SocketCalls& o, const ipc::DeliveryRequest& r, Calls::OnResult res, Calls::OnConnection conn,
               Calls::OnEnd end)
      : owner(o), req(r), on_result(std::move(res)), on_connection(std::move(conn)), on_end(std::move(end)) {}

  void Send() {
    ipc::SendDelivery(
        *call, req, [this](const ipc::DeliveryResult& r) { on_result(r); },
        [this](ipc::Call::End how, const std::string& why) { Ended(how, why); }, 0,
        [this](const ipc::ConnectionFact& c) { on_connection(c); });
  }

  void Ended(ipc::Call::End how, const std::string& why) {
    if (how == ipc::Call::End::kNotTaken) {
      log::Verbose("{}: transport {}: {}; sending the request on a new connection", queue::FormatMsgId(req.message_id),
                   req.transport, why);
      owner.Bury(std::move(call));
      return Fresh();
    }
    if (how == ipc::Call::End::kDone && call->reusable())
      owner.Park(req.transport, std::move(call));
    else
      owner.Bury(std::move(call));
    on_end(how, why);
  }

  void Fresh() {
    ipc::Call::Failure failure;
    std::string why;
    call = owner.Connect(req.transport, &failure, &why);
    if (call) return Send();
    if (failure == ipc::Call::Failure::kBusy) {
      if (!retry) retry = std::make_unique<event::Timer>(owner.loop());
      retry->Start(kBusyRetryMs, 0, [this] { Fresh(); });
      return;
    }
    on_end(ipc::Call::End::kCrashed, why);
  }

  SocketCalls& owner;
  ipc::DeliveryRequest req;
  Calls::OnResult on_result;
  Calls::OnConnection on_connection;
  Calls::OnEnd on_end;
  std::unique_ptr<ipc::Call> call;
  std::unique_ptr<event::Timer> retry;
};

}  // namespace

queue::Outcome<std::vector<queue::Envelope>> QueueStore::ListScheduled(queue::ScheduleCursor* cursor, int64_t until,
                                                                        size_t limit) {
  return q_.ListScheduled(cursor, until, limit);
}

void QueueStore::Housekeep(size_t in_core) {
  // Deliveries of a qmgr that died while another one ran are found here,
  // when the queue holds active envelopes that are not in this qmgr's
  // core: the check reads /proc for every active envelope's owner, which
  // with a full active set (20,000) cost more CPU than the deliveries.
  if (q_.GetCounters().active > in_core)
    if (int n = q_.ResetDeadInflight(); n > 0) log::Info("{} envelopes of a dead queue manager made due", n);
  q_.CheckReaders();
  q_.KeepReserve();  // given up on a full disk: back once there is room
}

SocketCalls::SocketCalls(uv_loop_t* loop, std::string private_dir)
    : loop_(loop), dir_(std::move(private_dir)), reaper_(loop) {}

std::unique_ptr<Calls::Pending> SocketCalls::Deliver(const ipc::DeliveryRequest& req, OnResult on_result,
                                                     OnConnection on_connection, OnEnd on_end,
                                                     ipc::Call::Failure* failure, std::string* why) {
  auto call = Take(req.transport);
  if (!call) call = Connect(req.transport, failure, why);
  if (!call) return nullptr;
  auto p = std::make_unique<DeliveryCall>(*this, req, std::move(on_result), std::move(on_connection), std::move(on_end));
  p->call = std::move(call);
  p->Send();
  return p;
}

std::unique_ptr<ipc::Call> SocketCalls::Connect(const std::string& transport, ipc::Call::Failure* failure,
                                                std::string* why) {
  return ipc::Call::Connect(loop_, dir_ + "/" + transport, ipc::kDeliveryFrameMax, failure, why);
}

// The most recently parked first: under a light load the same few workers
// serve, and the others reach max_idle and exit.
std::unique_ptr<ipc::Call> SocketCalls::Take(const std::string& transport) {
  auto it = idle_.find(transport);
  if (it == idle_.end() || it->second.empty()) return nullptr;
  std::unique_ptr<ipc::Call> c = std::move(it->second.back());
  it->second.pop_back();
  return c;
}

void SocketCalls::Park(const std::string& transport, std::unique_ptr<ipc::Call> call) {
  ipc::Call* raw = call.get();
  raw->Park([this, transport, raw] {
    auto& pool = idle_[transport];
    for (auto it = pool.begin(); it != pool.end(); ++it)
      if (it->get() == raw) {
        Bury(std::move(*it));
        pool.erase(it);
        return;
      }
  });
  idle_[transport].push_back(std::move(call));
}

void SocketCalls::Bury(std::unique_ptr<ipc::Call> call) {
  if (!call) return;
  dead_.push_back(std::move(call));
  if (!reaper_.active()) reaper_.Start(0, 0, [this] { dead_.clear(); });
}

void SocketCalls::CloseIdle() {
  for (auto& [transport, pool] : idle_)
    for (auto& c : pool) Bury(std::move(c));
  idle_.clear();
}

std::unique_ptr<Calls::Pending> SocketCalls::Notify(const ipc::BounceRequest& req, OnAnswer on_answer) {
  auto p = std::make_unique<SocketCall>();
  ipc::Call::Failure failure;
  std::string why;
  p->call = ipc::Call::Connect(loop_, dir_ + "/bounce", ipc::kBounceFrameMax, &failure, &why);
  if (p->call) {
    ipc::SendBounce(*p->call, req, kBounceTimeoutMs, std::move(on_answer));
    return p;
  }
  // Never answer from inside Notify: the caller has not stored the call yet.
  p->failed = std::make_unique<event::Timer>(loop_);
  p->failed->Start(0, 0, [on_answer = std::move(on_answer), why] { on_answer({false, 0, why}); });
  return p;
}

}  // namespace postern::qmgr
