// qmgr/active.cc — the in-core active set (see active.h): bounds, per-destination
// queues, the concurrency window's feedback from each finished request.
#include "qmgr/active.h"

#include <algorithm>
#include <iterator>

namespace postern::qmgr {

size_t Dest::Queued() const {
  size_t n = 0;
  for (const auto& [msg, entries] : todo) n += entries.size();
  return n;
}

ActiveSet::ActiveSet(size_t message_limit, size_t recipient_limit, Limits limits)
    : message_limit_(message_limit), recipient_limit_(recipient_limit), limits_(std::move(limits)) {}

void ActiveSet::SetBounds(size_t message_limit, size_t recipient_limit) {
  message_limit_ = message_limit;
  recipient_limit_ = recipient_limit;
}

bool ActiveSet::Full() const { return messages_.size() >= message_limit_ || in_core_ >= recipient_limit_; }

bool ActiveSet::Admits(queue::MsgId msg) const {
  if (in_core_ >= recipient_limit_) return false;
  return !Full() || messages_.count(msg) > 0;
}

Message* ActiveSet::Find(queue::MsgId msg) {
  auto it = messages_.find(msg);
  return it == messages_.end() ? nullptr : &it->second;
}

const Message* ActiveSet::Find(queue::MsgId msg) const {
  auto it = messages_.find(msg);
  return it == messages_.end() ? nullptr : &it->second;
}

Message& ActiveSet::Insert(queue::MsgId msg, queue::MessageRecord rec) {
  Message& m = messages_[msg];
  m.rec = std::move(rec);
  return m;
}

void ActiveSet::Count(Message& m) {
  ++m.in_core;
  ++in_core_;
}

bool ActiveSet::Uncount(queue::MsgId msg) {
  Message* m = Find(msg);
  if (!m) return false;
  --in_core_;
  return --m->in_core == 0;
}

void ActiveSet::Erase(queue::MsgId msg) { messages_.erase(msg); }

Transport* ActiveSet::GetTransport(const std::string& name, std::string* error) {
  if (auto it = transports_.find(name); it != transports_.end()) return it->second.get();
  auto limits = limits_(name);
  if (!limits) {
    *error = "transport " + name + ": " + limits.error();
    return nullptr;
  }
  auto t = std::make_unique<Transport>();
  t->name = name;
  t->limits = *limits;
  return (transports_[name] = std::move(t)).get();
}

Dest* ActiveSet::GetDest(const std::string& transport, const std::string& nexthop, std::string* error) {
  if (Dest* d = FindDest(transport, nexthop)) return d;
  Transport* t = GetTransport(transport, error);
  if (!t) return nullptr;
  auto d = std::make_unique<Dest>(t->limits.window);
  d->transport = t;
  d->nexthop = nexthop;
  return (dests_[{transport, nexthop}] = std::move(d)).get();
}

Dest* ActiveSet::FindDest(const std::string& transport, const std::string& nexthop) {
  auto it = dests_.find({transport, nexthop});
  return it == dests_.end() ? nullptr : it->second.get();
}

Placement ActiveSet::Place(queue::MsgId msg, Entry e, const std::string& transport, const std::string& nexthop,
                           int64_t now) {
  Placement p;
  Dest* d = GetDest(transport, nexthop, &p.warning);
  if (!d) {
    p.dsn = "4.3.5", p.reason = "mail transport " + transport + " is misconfigured";
  } else if (d->window.dead()) {
    p.dsn = "4.4.1", p.reason = "delivery temporarily suspended: " + d->dead_reason;
  } else if (d->transport->throttled_until > now) {
    p.dsn = "4.3.0", p.reason = "delivery temporarily suspended: " + d->transport->throttle_reason;
  } else {
    auto& list = d->todo[msg];
    if (list.empty()) d->order.push_back(msg);
    list.push_back(std::move(e));
    p.queued = true;
    p.waiting = d->order.size();
  }
  return p;
}

void ActiveSet::Dispatch(int64_t now, int max_inflight, const std::function<bool(const Transport&)>& paused,
                         const std::function<bool(Job&)>& start) {
  for (auto it = dests_.begin(); it != dests_.end();) {
    Dest* d = it->second.get();
    while (!d->order.empty() && !d->window.dead() && d->transport->throttled_until <= now && !paused(*d->transport) &&
           d->busy < d->window.concurrency() && busy_ < max_inflight) {
      if (!start(Take(*d, now))) break;
    }
    if (d->order.empty() && d->busy == 0 && !d->window.dead()) {
      it = dests_.erase(it);
    } else {
      ++it;
    }
  }
}

// Up to the transport's recipient limit of the oldest message waiting there.
Job& ActiveSet::Take(Dest& d, int64_t now) {
  queue::MsgId msg = d.order.front();
  auto& list = d.todo[msg];
  int limit = d.transport->limits.recipient_limit;
  size_t n = limit > 0 ? std::min(static_cast<size_t>(limit), list.size()) : list.size();
  auto job = std::make_unique<Job>();
  job->dest = &d;
  job->msg = msg;
  job->started = now;
  job->entries.assign(std::make_move_iterator(list.begin()), std::make_move_iterator(list.begin() + long(n)));
  list.erase(list.begin(), list.begin() + long(n));
  if (list.empty()) {
    d.todo.erase(msg);
    d.order.pop_front();
  }
  Job* jp = job.get();
  jobs_[jp] = std::move(job);
  ++d.busy;
  ++busy_;
  return *jp;
}

std::unique_ptr<Job> ActiveSet::Unregister(Job& job) {
  auto it = jobs_.find(&job);
  std::unique_ptr<Job> owned = std::move(it->second);
  jobs_.erase(it);
  --job.dest->busy;
  --busy_;
  return owned;
}

void ActiveSet::Return(Job& job) {
  std::unique_ptr<Job> j = Unregister(job);
  Dest& d = *j->dest;
  auto& back = d.todo[j->msg];
  if (back.empty()) d.order.push_front(j->msg);
  back.insert(back.begin(), std::make_move_iterator(j->entries.begin()), std::make_move_iterator(j->entries.end()));
}

std::unique_ptr<Job> ActiveSet::Drop(Job& job) { return Unregister(job); }

const Entry* ActiveSet::Answer(Job& job, const ipc::DeliveryResult& r) {
  const Entry* e = nullptr;
  for (const Entry& x : job.entries)
    if (x.id == r.envelope_id) e = &x;
  if (!e || !job.answered.insert(r.envelope_id).second) return nullptr;
  switch (r.status) {
    case ipc::DeliveryStatus::kSent:
    case ipc::DeliveryStatus::kBounced: job.reached = true; break;
    case ipc::DeliveryStatus::kDeferred:
      // Postfix's delivery agents say relay=none when no server was reached.
      job.reached |= !r.relay.empty() && r.relay != "none";
      job.last_reason = r.reason;
      break;
  }
  return e;
}

JobEnd ActiveSet::Finish(Job& job, bool crashed) {
  JobEnd end;
  end.job = Unregister(job);
  Dest& d = *end.job->dest;
  for (const Entry& e : end.job->entries)
    if (!end.job->answered.count(e.id)) end.unanswered.push_back(e);
  // A broken transport is no verdict on the destination.
  if (crashed) return end;
  if (end.job->reached) {
    // Counted with this delivery still busy, as Postfix does before it lets go of the entry.
    d.window.Success(d.busy + 1);
  } else if (!end.job->answered.empty()) {
    end.dest_died = d.window.Failure();
  }
  return end;
}

std::vector<Waiting> ActiveSet::TakeWaiting(Dest& d) {
  std::vector<Waiting> out;
  auto todo = std::move(d.todo);
  d.todo.clear();
  d.order.clear();
  for (auto& [msg, entries] : todo)
    for (Entry& e : entries) out.emplace_back(msg, std::move(e));
  return out;
}

std::vector<Waiting> ActiveSet::Kill(Dest& d, const std::string& why, int64_t revive_at) {
  d.dead_reason = why;
  d.revive_at = revive_at;
  return TakeWaiting(d);
}

bool ActiveSet::Throttle(Transport& t, int64_t now, int64_t until, const std::string& why,
                         std::vector<Waiting>* waiting) {
  bool fresh = t.throttled_until <= now;
  t.throttled_until = until;
  t.throttle_reason = why;
  for (auto& [k, d] : dests_) {
    if (d->transport != &t) continue;
    auto some = TakeWaiting(*d);
    waiting->insert(waiting->end(), std::make_move_iterator(some.begin()), std::make_move_iterator(some.end()));
  }
  return fresh;
}

int64_t ActiveSet::ReviveDue(int64_t now) {
  int64_t next = 0;
  for (auto& [k, d] : dests_) {
    if (!d->window.dead() || d->revive_at == 0) continue;
    if (d->revive_at <= now) {
      Revive(*d);
    } else if (next == 0 || d->revive_at < next) {
      next = d->revive_at;
    }
  }
  return next;
}

void ActiveSet::Revive(Dest& d) {
  d.window.Revive();
  d.revive_at = 0;
}

void ActiveSet::ReviveAll() {
  for (auto& [k, d] : dests_)
    if (d->window.dead()) Revive(*d);
  for (auto& [n, t] : transports_) t->throttled_until = 0;
}

bool ActiveSet::Unqueue(queue::EnvId id) {
  queue::MsgId msg = queue::MsgOf(id);
  for (auto& [k, d] : dests_) {
    auto it = d->todo.find(msg);
    if (it == d->todo.end()) continue;
    auto& list = it->second;
    for (auto e = list.begin(); e != list.end(); ++e) {
      if (e->id != id) continue;
      list.erase(e);
      if (list.empty()) {
        d->todo.erase(it);
        std::erase(d->order, msg);
      }
      return true;
    }
  }
  return false;
}

bool ActiveSet::IsWaiting(queue::EnvId id) const {
  for (const auto& [k, d] : dests_)
    if (auto it = d->todo.find(queue::MsgOf(id)); it != d->todo.end())
      for (const Entry& x : it->second)
        if (x.id == id) return true;
  return false;
}

const Job* ActiveSet::JobOf(queue::EnvId id) const {
  queue::MsgId msg = queue::MsgOf(id);
  for (const auto& [p, job] : jobs_) {
    if (job->msg != msg) continue;
    for (const Entry& x : job->entries)
      if (x.id == id) return job.get();
  }
  return nullptr;
}

std::vector<Waiting> ActiveSet::TakeAllWaiting() {
  std::vector<Waiting> out;
  for (auto& [k, d] : dests_) {
    auto some = TakeWaiting(*d);
    out.insert(out.end(), std::make_move_iterator(some.begin()), std::make_move_iterator(some.end()));
  }
  return out;
}

}  // namespace postern::qmgr
