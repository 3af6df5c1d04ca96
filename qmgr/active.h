// qmgr/active.h — the in-core active set: the messages qmgr works on, their
// recipients queued per destination (transport, next hop) and the deliveries in
// flight. No I/O: the clock comes in as an argument, decisions go out as data.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "postern/ipc/bounce.h"
#include "postern/ipc/delivery.h"
#include "postern/queue/ids.h"
#include "postern/queue/schema.h"
#include "qmgr/policy.h"
#include "qmgr/settings.h"

namespace postern::qmgr {

// One recipient in core.
struct Entry {
  queue::EnvId id = 0;
  std::string address, orig;
  uint8_t notify = 0;
  uint32_t attempts = 0;
};

// A recipient to report in a notice (notifier.h); its envelope stays until then.
struct Report {
  queue::EnvId id = 0;
  ipc::BounceRecipient rcpt;
};

struct Message {
  queue::MessageRecord rec;
  size_t in_core = 0;   // its envelopes in the active set (waiting, in flight, being removed)
  size_t removing = 0;  // reported envelopes whose removal is not committed yet
  bool gone = false;    // its last envelope left the queue: "removed" is due
  bool expired_logged = false;
  bool active_logged = false;                      // "(queue active)" said
  std::vector<Report> failed, succeeded, delayed;  // reported once in_core is 0
  bool notifying = false;                          // a bounce request is out
};

struct Transport {
  std::string name;
  TransportLimits limits;
  int64_t throttled_until = 0;  // unix time; 0 = not throttled
  std::string throttle_reason;
};

struct Dest {
  Transport* transport = nullptr;
  std::string nexthop;
  Window window;
  int busy = 0;
  std::deque<queue::MsgId> order;  // messages with work, oldest first
  std::map<queue::MsgId, std::vector<Entry>> todo;
  std::string dead_reason;
  int64_t revive_at = 0;  // dead until then (a monotonic ms clock)
  explicit Dest(const WindowParams& p) : window(p) {}
  size_t Queued() const;
};

// One delivery request: recipients of one message to one destination.
struct Job {
  Dest* dest = nullptr;
  queue::MsgId msg = 0;
  std::vector<Entry> entries;
  std::set<queue::EnvId> answered;
  bool reached = false;     // some result shows the destination was reached
  std::string last_reason;  // of the last deferred result
  int64_t started = 0;      // unix time it was handed to the transport
};

// Where a recipient's arrival at its destination leaves it.
struct Placement {
  bool queued = false;
  std::string dsn, reason;  // when not queued: defer it with these
  std::string warning;      // a transport whose parameters do not work
  size_t waiting = 0;       // when queued: messages with work at the destination
};

// A finished delivery request and what its destination learnt from it.
struct JobEnd {
  std::unique_ptr<Job> job;
  std::vector<Entry> unanswered;
  bool dest_died = false;  // the failed cohort limit was reached
};

// A recipient taken out of a destination's queue (to defer or hand back).
using Waiting = std::pair<queue::MsgId, Entry>;

class ActiveSet {
 public:
  using Limits = std::function<Result<TransportLimits>(const std::string& transport)>;
  ActiveSet(size_t message_limit, size_t recipient_limit, Limits limits);

  // --- messages and the active-set bounds
  void SetBounds(size_t message_limit, size_t recipient_limit);
  bool Full() const;
  // Room for one more envelope of `msg` (a message in core may grow past the message bound).
  bool Admits(queue::MsgId msg) const;
  Message* Find(queue::MsgId msg);
  const Message* Find(queue::MsgId msg) const;
  Message& Insert(queue::MsgId msg, queue::MessageRecord rec);
  void Count(Message& m);           // one more envelope of it in core
  bool Uncount(queue::MsgId msg);   // one less; true when none of it is left in core
  void Erase(queue::MsgId msg);
  size_t in_core() const { return in_core_; }
  size_t messages() const { return messages_.size(); }

  // --- destinations
  // Queues the recipient at its destination, unless the destination or its
  // transport rests (or the transport's parameters do not work).
  Placement Place(queue::MsgId msg, Entry e, const std::string& transport, const std::string& nexthop, int64_t now);
  Dest* FindDest(const std::string& transport, const std::string& nexthop);
  // Starts deliveries while destinations have work and room in their window:
  // `start` gets each new job and returns false when it did not go out (it
  // called Return or Drop), which moves on to the next destination.
  // Idle healthy destinations are forgotten, as Postfix drops empty queues.
  void Dispatch(int64_t now, int max_inflight, const std::function<bool(const Transport&)>& paused,
                const std::function<bool(Job&)>& start);
  // A job that could not go out: its recipients back to the front of the queue.
  void Return(Job& job);
  // A job that could not go out and whose recipients the caller defers.
  std::unique_ptr<Job> Drop(Job& job);

  // --- results
  // The entry a result is about, counted once; nullptr for a recipient the
  // job was not given or one answered twice. Feeds the job's verdict.
  const Entry* Answer(Job& job, const ipc::DeliveryResult& r);
  // The request is over: the window learns from it unless the transport broke.
  JobEnd Finish(Job& job, bool crashed);

  // --- resting destinations and transports
  // Dead after a failed cohort until revive_at: returns its waiting recipients.
  std::vector<Waiting> Kill(Dest& d, const std::string& why, int64_t revive_at);
  // Rests until `until`; true when it was not resting at `now`. *waiting gets
  // the recipients queued at its destinations.
  bool Throttle(Transport& t, int64_t now, int64_t until, const std::string& why, std::vector<Waiting>* waiting);
  std::vector<Waiting> TakeWaiting(Dest& d);
  // Revives the dead destinations due by `now`; returns the next revival time (0: none).
  int64_t ReviveDue(int64_t now);
  void Revive(Dest& d);
  void ReviveAll();  // flush: dead destinations and throttled transports alike

  // --- envelopes
  bool Unqueue(queue::EnvId id);  // out of its destination's queue; false when not waiting
  bool IsWaiting(queue::EnvId id) const;
  const Job* JobOf(queue::EnvId id) const;
  std::vector<Waiting> TakeAllWaiting();  // a retiring qmgr hands everything back

  // --- views (control, reconfiguration)
  using DestKey = std::pair<std::string, std::string>;
  const std::map<DestKey, std::unique_ptr<Dest>>& dests() const { return dests_; }
  std::map<DestKey, std::unique_ptr<Dest>>& dests() { return dests_; }
  const std::map<Job*, std::unique_ptr<Job>>& jobs() const { return jobs_; }
  std::map<std::string, std::unique_ptr<Transport>>& transports() { return transports_; }
  int busy() const { return busy_; }

 private:
  Transport* GetTransport(const std::string& name, std::string* error);
  Dest* GetDest(const std::string& transport, const std::string& nexthop, std::string* error);
  Job& Take(Dest& d, int64_t now);
  std::unique_ptr<Job> Unregister(Job& job);

  size_t message_limit_, recipient_limit_;
  Limits limits_;
  std::map<queue::MsgId, Message> messages_;
  size_t in_core_ = 0;
  std::map<std::string, std::unique_ptr<Transport>> transports_;
  std::map<DestKey, std::unique_ptr<Dest>> dests_;
  std::map<Job*, std::unique_ptr<Job>> jobs_;
  int busy_ = 0;
};

}  // namespace postern::qmgr
