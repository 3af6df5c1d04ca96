// queue/queue_internal.h — pieces shared by queue.cc, queue_update.cc and
// queue_recover.cc: counter slots, LMDB error mapping, envelope loading.
#pragma once

#include <lmdb.h>

#include <ctime>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "postern/queue/queue.h"
#include "postern/queue/schema.h"
#include "postern/queue/status.h"

namespace postern::queue::internal {

// Counter slots: the five states first (State value - 1), then totals.
enum CounterSlot { kMessages = 5, kBytes, kEnqueued, kRemoved, kNumCounters };
extern const char* const kCounterNames[kNumCounters];
inline int Slot(State s) { return static_cast<int>(s) - 1; }

Status MdbStatus(int rc, std::string_view what);
inline int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

// All envelopes of one message, in envelope-id order.
Status LoadEnvelopes(MDB_txn* t, MDB_dbi env_db, MsgId id, std::vector<Envelope>* out);
Status GetEnvelopeIn(MDB_txn* t, MDB_dbi env_db, EnvId id, Envelope* out);
Status GetMessageIn(MDB_txn* t, MDB_dbi msg_db, MsgId id, MessageRecord* out);

// Pages on LMDB's free list, and the bytes of the pages in use (space.cc).
uint64_t FreePages(MDB_txn* t);
uint64_t UsedBytesIn(MDB_env* env, MDB_txn* t);

}  // namespace postern::queue::internal

namespace postern::queue {

// Runs body(txn) in a write transaction; grows the map and retries on
// MDB_MAP_FULL. An update or removal (not an enqueue) that finds the file
// system full releases the space reserve and tries once more, so that the
// queue can drain when the disk is full.
template <class F>
Status Queue::Write(F&& body, bool enqueue) {
  bool released = false;
  for (int tries = 0;; ++tries) {
    Status s;
    {
      std::shared_lock lk(map_mu_);
      MDB_txn* t = nullptr;
      int rc = mdb_txn_begin(env_.get(), nullptr, 0, &t);
      if (rc == MDB_MAP_RESIZED) {
        lk.unlock();
        if (Status a = Adopt(); !a.ok()) return a;
        continue;
      }
      if (rc) return internal::MdbStatus(rc, "begin write");
      mdb::Txn txn(t);
      s = body(t);
      if (s.ok()) {
        rc = txn.Commit();
        if (rc == 0) {
          commit_syncs_++;
          return s;
        }
        s = CommitStatus(rc);
      }
    }
    if (s.code == Code::kInsufficientStorage && !enqueue && !released) {
      released = true;
      if (ReleaseReserve()) continue;
    }
    if (s.code != Code::kMapFull || tries > 20) return s;
    if (Status g = Grow(enqueue); !g.ok()) return g;
  }
}

template <class F>
Status Queue::Read(F&& body) {
  for (;;) {
    std::shared_lock lk(map_mu_);
    MDB_txn* t = nullptr;
    int rc = mdb_txn_begin(env_.get(), nullptr, MDB_RDONLY, &t);
    if (rc == MDB_MAP_RESIZED) {
      lk.unlock();
      if (Status a = Adopt(); !a.ok()) return a;
      continue;
    }
    if (rc) return internal::MdbStatus(rc, "begin read");
    mdb::Txn txn(t);
    return body(t);
  }
}

}  // namespace postern::queue
