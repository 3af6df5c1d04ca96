// qmgr/io.cc — the real queue and the real calls behind qmgr's interfaces (io.h).
#include "qmgr/io.h"

#include "postern/event/event.h"
#include "postern/log/log.h"

namespace postern::qmgr {

namespace {

// How long bounce may take to queue a notice (it reads the original and syncs).
constexpr uint64_t kBounceTimeoutMs = 60'000;

struct SocketCall : Calls::Pending {
  std::unique_ptr<ipc::Call> call;
  std::unique_ptr<event::Timer> failed;  // a call that could not connect answers on the next turn
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

std::unique_ptr<Calls::Pending> SocketCalls::Deliver(const ipc::DeliveryRequest& req, OnResult on_result,
                                                     OnConnection on_connection, OnEnd on_end,
                                                     ipc::Call::Failure* failure, std::string* why) {
  auto call = ipc::Call::Connect(loop_, dir_ + "/" + req.transport, ipc::kDeliveryFrameMax, failure, why);
  if (!call) return nullptr;
  auto p = std::make_unique<SocketCall>();
  p->call = std::move(call);
  ipc::SendDelivery(*p->call, req, std::move(on_result), std::move(on_end), 0, std::move(on_connection));
  return p;
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
