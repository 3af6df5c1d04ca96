// queue/queue_update.cc — changing envelopes (each change one transaction,
// state sets, schedule index and counters kept in step) and paged iteration.
#include <unistd.h>

#include "postern/log/log.h"
#include "postern/queue/queue.h"
#include "postern/queue/queue_internal.h"

namespace postern::queue {

using internal::MdbStatus;
using internal::Now;

namespace {

uint64_t SelfStart() {
  static const uint64_t start = ProcessStartTime(::getpid());
  return start;
}

void ApplyUpdate(Envelope* e, const EnvelopeUpdate& u) {
  if (u.state) e->state = *u.state;
  if (u.next_attempt) e->next_attempt = *u.next_attempt;
  if (u.attempts) e->attempts = *u.attempts;
  if (u.last_error) e->last_error = *u.last_error;
  if (u.last_attempt) e->last_attempt = *u.last_attempt;
  if (u.transport) e->transport = *u.transport;
  if (u.nexthop) e->nexthop = *u.nexthop;
}

// The condition of a conditional update, checked inside its write transaction.
Status CheckExpected(const Envelope& old, const EnvelopeUpdate& u) {
  if (!u.expect || u.expect->Matches(old)) return Status::Ok();
  return Fail(Code::kConflict, "envelope " + FormatEnvId(old.id) + " changed since it was read");
}

}  // namespace

// An active envelope records who holds it, so that recovery can tell a live
// delivery from one whose process died.
static void SetOwner(Envelope* e) {
  if (e->state == State::kActive) {
    e->owner_pid = static_cast<uint32_t>(::getpid());
    e->owner_start = SelfStart();
  } else {
    e->owner_pid = 0;
    e->owner_start = 0;
  }
}

Status Queue::Update(EnvId id, const EnvelopeUpdate& u) {
  if (u.last_error && u.last_error->size() > kMaxError) return Fail(Code::kInvalid, "error text too long");
  return Write([&](MDB_txn* t) -> Status {
    Envelope old;
    if (Status s = internal::GetEnvelopeIn(t, env_db_, id, &old); !s.ok()) return s;
    if (Status s = CheckExpected(old, u); !s.ok()) return s;
    Envelope now = old;
    ApplyUpdate(&now, u);
    SetOwner(&now);
    int64_t deltas[internal::kNumCounters] = {};
    if (Status s = PutEnvelope(t, &old, now, deltas); !s.ok()) return s;
    return ApplyCounters(t, deltas);
  });
}

Status Queue::RemoveInTxn(MDB_txn* t, EnvId id, int64_t* deltas, bool* last, uint64_t* size,
                          bool* inline_body) {
  Envelope e;
  if (Status s = internal::GetEnvelopeIn(t, env_db_, id, &e); !s.ok()) return s;
  std::string ek = EnvKey(id), sk = StateKey(e.state, id);
  MDB_val key = mdb::Val(ek);
  if (int rc = mdb_del(t, env_db_, &key, nullptr)) return MdbStatus(rc, "del envelope");
  key = mdb::Val(sk);
  if (int rc = mdb_del(t, state_db_, &key, nullptr); rc && rc != MDB_NOTFOUND) return MdbStatus(rc, "del state");
  if (Scheduled(e.state)) {
    std::string k = SchedKey(e.next_attempt, id);
    key = mdb::Val(k);
    if (int rc = mdb_del(t, sched_db_, &key, nullptr); rc && rc != MDB_NOTFOUND) return MdbStatus(rc, "del sched");
  }
  deltas[internal::Slot(e.state)]--;
  deltas[internal::kRemoved]++;
  std::vector<Envelope> rest;
  if (Status s = internal::LoadEnvelopes(t, env_db_, MsgOf(id), &rest); !s.ok()) return s;
  *last = rest.empty();
  if (!*last) return Status::Ok();
  MessageRecord m;
  Status s = internal::GetMessageIn(t, msg_db_, MsgOf(id), &m);
  if (!s.ok() && s.code != Code::kCorrupt) return s;
  std::string mk = MsgKey(MsgOf(id));
  key = mdb::Val(mk);
  if (int rc = mdb_del(t, msg_db_, &key, nullptr)) return MdbStatus(rc, "del message");
  int rc = mdb_del(t, body_db_, &key, nullptr);
  if (rc && rc != MDB_NOTFOUND) return MdbStatus(rc, "del body");
  *inline_body = rc == 0;
  deltas[internal::kMessages]--;
  deltas[internal::kBytes] -= static_cast<int64_t>(m.size);
  *size = m.size;
  return Status::Ok();
}

Status Queue::Remove(EnvId id) {
  bool last = false, in_db = false;
  Status s = Write([&](MDB_txn* t) -> Status {
    int64_t deltas[internal::kNumCounters] = {};
    uint64_t size = 0;
    if (Status r = RemoveInTxn(t, id, deltas, &last, &size, &in_db); !r.ok()) return r;
    return ApplyCounters(t, deltas);
  });
  // A body file goes after the record: a crash in between leaves an orphan that
  // recovery removes, never a record without its body.
  if (s.ok() && last && !in_db) ::unlink(BodyPath(data_dir_, MsgOf(id)).c_str());
  return s;
}

std::vector<Status> Queue::UpdateMany(std::span<const std::pair<EnvId, EnvelopeUpdate>> changes) {
  std::vector<Status> out;
  Status s = Write([&](MDB_txn* t) -> Status {
    out.assign(changes.size(), Status::Ok());  // Write may run this body again
    int64_t deltas[internal::kNumCounters] = {};
    for (size_t i = 0; i < changes.size(); ++i) {
      const auto& [id, u] = changes[i];
      if (u.last_error && u.last_error->size() > kMaxError) {
        out[i] = Fail(Code::kInvalid, "error text too long");
        continue;
      }
      Envelope old;
      if (Status g = internal::GetEnvelopeIn(t, env_db_, id, &old); !g.ok()) {
        if (g.code != Code::kNotFound && g.code != Code::kCorrupt) return g;
        out[i] = g;
        continue;
      }
      if (Status c = CheckExpected(old, u); !c.ok()) {
        out[i] = c;
        continue;
      }
      Envelope now = old;
      ApplyUpdate(&now, u);
      SetOwner(&now);
      // kInvalid (a field too long) is found before anything is written.
      if (Status p = PutEnvelope(t, &old, now, deltas); !p.ok()) {
        if (p.code != Code::kInvalid) return p;
        out[i] = p;
      }
    }
    return ApplyCounters(t, deltas);
  });
  if (!s.ok()) out.assign(changes.size(), s);
  return out;
}

std::vector<Status> Queue::RemoveMany(std::span<const EnvId> ids, std::vector<MsgId>* gone) {
  std::vector<Status> out;
  std::vector<MsgId> emptied, went;
  Status s = Write([&](MDB_txn* t) -> Status {
    out.assign(ids.size(), Status::Ok());
    emptied.clear();
    went.clear();
    int64_t deltas[internal::kNumCounters] = {};
    for (size_t i = 0; i < ids.size(); ++i) {
      bool last = false, in_db = false;
      uint64_t size = 0;
      // A missing envelope fails in its first read, before anything is changed.
      if (Status r = RemoveInTxn(t, ids[i], deltas, &last, &size, &in_db); !r.ok()) {
        if (r.code != Code::kNotFound) return r;
        out[i] = r;
      } else if (last) {
        went.push_back(MsgOf(ids[i]));
        if (!in_db) emptied.push_back(MsgOf(ids[i]));
      }
    }
    return ApplyCounters(t, deltas);
  });
  if (!s.ok()) {
    out.assign(ids.size(), s);
    return out;
  }
  // Body files go after the records, as in Remove().
  for (MsgId m : emptied) ::unlink(BodyPath(data_dir_, m).c_str());
  if (gone) gone->insert(gone->end(), went.begin(), went.end());
  return out;
}

Status Queue::RemoveMessage(MsgId id) {
  bool in_db = false;
  Status s = Write([&](MDB_txn* t) -> Status {
    std::vector<Envelope> all;
    if (Status r = internal::LoadEnvelopes(t, env_db_, id, &all); !r.ok()) return r;
    if (all.empty()) return Fail(Code::kNotFound, "message " + FormatMsgId(id));
    int64_t deltas[internal::kNumCounters] = {};
    for (const Envelope& e : all) {
      bool last = false;
      uint64_t size = 0;
      if (Status r = RemoveInTxn(t, e.id, deltas, &last, &size, &in_db); !r.ok()) return r;
    }
    return ApplyCounters(t, deltas);
  });
  if (s.ok() && !in_db) ::unlink(BodyPath(data_dir_, id).c_str());
  return s;
}

Status Queue::Transition(uint64_t id, const std::function<bool(const Envelope&)>& applies,
                         const std::function<void(Envelope&)>& change) {
  if (id == 0) return Fail(Code::kInvalid, "id 0");
  return Write([&](MDB_txn* t) -> Status {
    std::vector<Envelope> list;
    if (IsMsgId(id)) {
      if (Status s = internal::LoadEnvelopes(t, env_db_, static_cast<MsgId>(id), &list); !s.ok()) return s;
      if (list.empty()) return Fail(Code::kNotFound, "message " + FormatMsgId(static_cast<MsgId>(id)));
    } else {
      list.emplace_back();
      if (Status s = internal::GetEnvelopeIn(t, env_db_, id, &list.back()); !s.ok()) return s;
    }
    int64_t deltas[internal::kNumCounters] = {};
    int changed = 0;
    for (Envelope& e : list) {
      if (!applies(e)) continue;
      Envelope old = e;
      change(e);
      SetOwner(&e);
      if (Status s = PutEnvelope(t, &old, e, deltas); !s.ok()) return s;
      ++changed;
    }
    if (changed == 0) return Fail(Code::kInvalid, "no envelope in a state that allows this");
    return ApplyCounters(t, deltas);
  });
}

Status Queue::Hold(uint64_t id) {
  return Transition(
      id, [](const Envelope& e) { return Scheduled(e.state); },
      [](Envelope& e) { e.state = State::kHold; });
}

Status Queue::Release(uint64_t id) {
  int64_t now = Now();
  return Transition(
      id, [](const Envelope& e) { return e.state == State::kHold; },
      [now](Envelope& e) {
        e.state = State::kDeferred;
        e.next_attempt = now;
      });
}

Status Queue::MarkCorrupt(MsgId id, std::string_view why) {
  Status s = Transition(
      id, [](const Envelope& e) { return e.state != State::kCorrupt; },
      [](Envelope& e) { e.state = State::kCorrupt; });
  if (s.ok()) log::Warning("{}: queue file is corrupt, moved to corrupt: {}", FormatMsgId(id), why);
  return s;
}

Status Queue::SetMessageFlags(MsgId id, uint32_t add) {
  return Write([&](MDB_txn* t) -> Status {
    MessageRecord m;
    if (Status s = internal::GetMessageIn(t, msg_db_, id, &m); !s.ok()) return s;
    if ((m.flags & add) == add) return Status::Ok();
    m.flags |= add;
    auto value = EncodeMessage(m);
    if (!value) return Fail(Code::kInvalid, "message record too long");
    std::string k = MsgKey(id);
    MDB_val key = mdb::Val(k), val = mdb::Val(*value);
    if (int rc = mdb_put(t, msg_db_, &key, &val, 0)) return MdbStatus(rc, "put message");
    return Status::Ok();
  });
}

Status Queue::Uncorrupt(MsgId id) {
  auto m = GetMessage(id);
  if (!m.ok()) return m.status();
  auto body = OpenBody(id);
  if (!body.ok()) return body.status();
  if (body->size() != m->size) {
    return Fail(Code::kCorrupt, "body is " + std::to_string(body->size()) + " bytes, record says " +
                                    std::to_string(m->size));
  }
  int64_t now = Now();
  return Transition(
      id, [](const Envelope& e) { return e.state == State::kCorrupt; },
      [now](Envelope& e) {
        e.state = State::kDeferred;
        e.next_attempt = now;
      });
}

Outcome<std::vector<Envelope>> Queue::ListByState(State st, EnvId after, size_t limit) {
  std::vector<Envelope> out;
  Status s = Read([&](MDB_txn* t) -> Status {
    int rc;
    mdb::Cursor c(t, state_db_, &rc);
    if (rc) return MdbStatus(rc, "cursor");
    std::string start = StateKey(st, after);
    MDB_val key = mdb::Val(start), val;
    for (rc = mdb_cursor_get(c.get(), &key, &val, MDB_SET_RANGE); rc == 0 && out.size() < limit;
         rc = mdb_cursor_get(c.get(), &key, &val, MDB_NEXT)) {
      std::string_view k = mdb::View(key);
      if (k.size() != 9 || static_cast<State>(k[0]) != st) break;
      EnvId id = LoadBE(k.substr(1));
      if (id == after) continue;
      Envelope e;
      if (Status g = internal::GetEnvelopeIn(t, env_db_, id, &e); !g.ok()) return g;
      out.push_back(std::move(e));
    }
    return rc == 0 || rc == MDB_NOTFOUND ? Status::Ok() : MdbStatus(rc, "cursor");
  });
  if (!s.ok()) return s;
  return out;
}

Outcome<std::vector<Envelope>> Queue::ListScheduled(ScheduleCursor* cursor, int64_t until, size_t limit) {
  std::vector<Envelope> out;
  Status s = Read([&](MDB_txn* t) -> Status {
    int rc;
    mdb::Cursor c(t, sched_db_, &rc);
    if (rc) return MdbStatus(rc, "cursor");
    std::string start = SchedKey(cursor->time, cursor->after);
    MDB_val key = mdb::Val(start), val;
    for (rc = mdb_cursor_get(c.get(), &key, &val, MDB_SET_RANGE); rc == 0 && out.size() < limit;
         rc = mdb_cursor_get(c.get(), &key, &val, MDB_NEXT)) {
      std::string_view k = mdb::View(key);
      if (k.size() != 16) return Fail(Code::kCorrupt, "schedule key of bad length");
      int64_t when = static_cast<int64_t>(LoadBE(k.substr(0, 8)));
      EnvId id = LoadBE(k.substr(8));
      if (when > until) break;
      if (when == cursor->time && id == cursor->after) continue;
      Envelope e;
      if (Status g = internal::GetEnvelopeIn(t, env_db_, id, &e); !g.ok()) return g;
      out.push_back(std::move(e));
      cursor->time = when;
      cursor->after = id;
    }
    return rc == 0 || rc == MDB_NOTFOUND ? Status::Ok() : MdbStatus(rc, "cursor");
  });
  if (!s.ok()) return s;
  return out;
}

namespace {

// Up to `limit` message records after `after`, decoded, each handed to
// each(id, record) in the read transaction `t`.
template <class Each>
Status PageMessages(MDB_txn* t, MDB_dbi msg_db, MsgId after, size_t limit, Each&& each) {
  int rc;
  mdb::Cursor c(t, msg_db, &rc);
  if (rc) return MdbStatus(rc, "cursor");
  std::string start = MsgKey(after);
  MDB_val key = mdb::Val(start), val;
  size_t n = 0;
  for (rc = mdb_cursor_get(c.get(), &key, &val, MDB_SET_RANGE); rc == 0 && n < limit;
       rc = mdb_cursor_get(c.get(), &key, &val, MDB_NEXT)) {
    MsgId id = static_cast<MsgId>(LoadBE(mdb::View(key)));
    if (id == after) continue;
    auto m = DecodeMessage(id, mdb::View(val));
    if (!m) return Fail(Code::kCorrupt, "message " + FormatMsgId(id) + ": undecodable record");
    if (Status s = each(id, std::move(*m)); !s.ok()) return s;
    ++n;
  }
  return rc == 0 || rc == MDB_NOTFOUND ? Status::Ok() : MdbStatus(rc, "cursor");
}

}  // namespace

Outcome<std::vector<MessageRecord>> Queue::ListMessages(MsgId after, size_t limit) {
  std::vector<MessageRecord> out;
  Status s = Read([&](MDB_txn* t) -> Status {
    return PageMessages(t, msg_db_, after, limit, [&](MsgId, MessageRecord m) {
      out.push_back(std::move(m));
      return Status::Ok();
    });
  });
  if (!s.ok()) return s;
  return out;
}

Outcome<std::vector<Queue::Listed>> Queue::ListWithEnvelopes(MsgId after, size_t limit) {
  std::vector<Listed> out;
  Status s = Read([&](MDB_txn* t) -> Status {
    return PageMessages(t, msg_db_, after, limit, [&](MsgId id, MessageRecord m) {
      Listed l{std::move(m), {}};
      if (Status e = internal::LoadEnvelopes(t, env_db_, id, &l.envelopes); !e.ok()) return e;
      out.push_back(std::move(l));
      return Status::Ok();
    });
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace postern::queue
