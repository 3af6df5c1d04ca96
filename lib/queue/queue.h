// queue/queue.h — the durable queue (DESIGN.md §4). A message's life:
// Begin() → MessageWriter (Append body, AddRecipient) → Commit (a large body's
// file fsynced, then one LMDB transaction makes message + envelopes — and a
// small body — visible) → envelopes are
// updated, held, corrupted, and removed; the last removal takes the message and body.
#pragma once

#include <lmdb.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "postern/queue/body.h"
#include "postern/queue/ids.h"
#include "postern/queue/lmdb.h"
#include "postern/queue/schema.h"
#include "postern/queue/status.h"

namespace postern::config {
class Config;
}

namespace postern::queue {

inline constexpr size_t kDefaultInlineBodyMax = 32 * 1024;

struct Options {
  uint64_t min_free = 0;                        // queue_minfree: refuse mail below this
  // queue_map_size: enqueueing stops here; removals and updates may use 1/8
  // more, so that a full queue can always be drained.
  uint64_t map_size_limit = 4ULL << 30;
  uint64_t initial_map_size = 64ULL << 20;      // first map; doubled on MDB_MAP_FULL
  std::optional<Owner> owner;                   // chown what we create (root only)
  bool recover = false;                         // run Recover() after opening
  // false: this process's commits skip the meta-page flush (MDB_NOMETASYNC),
  // so an OS crash may undo its last transaction, never corrupt the map (the
  // next commit's data flush carries the meta page). For qmgr, whose state
  // transitions redo safely (at-least-once); never where a 250 depends on it.
  bool meta_sync = true;
  // Bodies up to this size are stored inside the commit transaction (one
  // flush makes body and envelopes durable) instead of as files; 0: always files.
  size_t inline_body_max = kDefaultInlineBodyMax;
  // queue_reserve_size: kept allocated in queue.reserve by KeepReserve() and
  // released when an update or removal finds the file system full; 0: none.
  uint64_t reserve_size = 0;
};

// Builds Options from main.cf (queue_minfree, queue_map_size, mail_owner when
// root); the directory is queue_directory.
Outcome<Options> OptionsFromConfig(const config::Config& cfg);

struct Recipient {
  std::string address;
  std::string orig_recipient;  // DSN ORCPT, as received
  uint8_t notify = 0;          // Notify bits; 0 = not given
};

struct Counters {
  uint64_t incoming = 0, active = 0, deferred = 0, hold = 0, corrupt = 0;  // envelopes now
  uint64_t messages = 0, bytes = 0;        // messages and body bytes now
  uint64_t enqueued = 0, removed = 0;      // since the queue was created: messages in, envelopes out
  uint64_t ByState(State s) const;
};

// What Recover() found and did.
struct RecoveryReport {
  int stale_readers = 0;
  bool full_check = false;  // every body was checked (see Recover)
  int bodies_checked = 0;
  uint64_t bodies_total = 0;  // messages in the queue
  int orphan_bodies = 0;    // removed
  int corrupted = 0;        // messages moved to corrupt
  int inflight_reset = 0;   // envelopes of dead processes made due again
};

// Sync system calls made by this process (for the benchmark and tests).
struct SyncStats {
  uint64_t body_syncs = 0;    // fdatasync of single bodies
  uint64_t dir_syncs = 0;     // fsync of body directories
  uint64_t fs_syncs = 0;      // syncfs covering a whole batch of bodies
  uint64_t commit_syncs = 0;  // LMDB write transactions committed (each syncs once)
  uint64_t commits = 0;       // messages committed
  uint64_t inline_bodies = 0; // of those, with the body inside the commit transaction
};

// What an envelope must still be, in the write transaction, for an update to
// apply: a claim (due -> active) then belongs to one process only; an envelope
// that changed since it was read fails with kConflict and is left as it is.
struct Expected {
  State state = State::kIncoming;
  int64_t next_attempt = 0;
  uint32_t owner_pid = 0;
  uint64_t owner_start = 0;
  static Expected Of(const Envelope& e) { return {e.state, e.next_attempt, e.owner_pid, e.owner_start}; }
  bool Matches(const Envelope& e) const {
    return e.state == state && e.next_attempt == next_attempt && e.owner_pid == owner_pid &&
           e.owner_start == owner_start;
  }
};

// Fields of an envelope to change in one transaction; unset ones stay.
struct EnvelopeUpdate {
  std::optional<Expected> expect;  // unset: unconditional
  std::optional<State> state;
  std::optional<int64_t> next_attempt;
  std::optional<uint32_t> attempts;
  std::optional<std::string> last_error;
  std::optional<int64_t> last_attempt;
  std::optional<std::string> transport, nexthop;
};

// A resume point for paged iteration; default = from the beginning.
struct ScheduleCursor {
  int64_t time = 0;
  EnvId after = 0;
};

class Queue;

// One message being received. Destroying it without committing removes its body.
class MessageWriter {
 public:
  MsgId id() const { return rec_.id; }
  MessageRecord& record() { return rec_; }  // sender, client, DSN... (size is computed)
  Status Append(std::string_view data) { return body_.Append(data); }
  Status AddRecipient(Recipient r);
  size_t recipients() const { return rcpts_.size(); }
  void Abort() { body_.Remove(); }
  // Commit the envelopes on hold, out of qmgr's sight (cleanup's bounce of
  // a refused message: the notice is made, then the message removed).
  void Hold() { hold_ = true; }
  // The FILTER action: every envelope goes to "transport:nexthop" (qmgr
  // does not resolve them).
  void SetFilter(std::string transport_nexthop) { filter_ = std::move(transport_nexthop); }
  const std::string& filter() const { return filter_; }
  const std::vector<Recipient>& recipient_list() const { return rcpts_; }

 private:
  friend class Queue;
  MessageWriter(MessageRecord rec, BodyWriter body) : rec_(std::move(rec)), body_(std::move(body)) {}
  MessageRecord rec_;
  std::vector<Recipient> rcpts_;
  BodyWriter body_;
  bool hold_ = false;
  std::string filter_;
};

class Queue {
 public:
  // Opens (creating if needed) the queue in `dir`: dir/queue.lmdb and dir/data/.
  static Outcome<std::unique_ptr<Queue>> Open(const std::string& dir, const Options& opts);
  ~Queue();
  Queue(const Queue&) = delete;

  const std::string& dir() const { return dir_; }

  // Enqueueing. Begin fails with kInsufficientStorage below queue_minfree.
  Outcome<std::unique_ptr<MessageWriter>> Begin(MessageRecord rec);
  Outcome<MsgId> Commit(std::unique_ptr<MessageWriter> w);
  // Commits several messages with one body sync and one LMDB transaction; one
  // Status per message, all kOk or all failed (nothing of a failed one remains).
  std::vector<Status> CommitBatch(std::span<MessageWriter* const> batch);

  // Reading.
  Outcome<MessageRecord> GetMessage(MsgId id);
  Outcome<Envelope> GetEnvelope(EnvId id);
  Outcome<std::vector<Envelope>> Envelopes(MsgId id);
  Outcome<BodyReader> OpenBody(MsgId id);  // inline or file: the one body reader
  uint64_t InlineBodyCount();              // bodies stored in LMDB (checks, tests)
  Counters GetCounters();

  // Paged iteration: each page is one short read transaction, so a caller can
  // stream any number of envelopes. Pass the last id/cursor back to continue.
  Outcome<std::vector<Envelope>> ListByState(State s, EnvId after, size_t limit);
  // Envelopes in schedule order (incoming and deferred), due at or before `until`.
  Outcome<std::vector<Envelope>> ListScheduled(ScheduleCursor* cursor, int64_t until, size_t limit);
  Outcome<std::vector<MessageRecord>> ListMessages(MsgId after, size_t limit);
  // Messages with their envelopes, a page in one read transaction (listings).
  struct Listed {
    MessageRecord message;
    std::vector<Envelope> envelopes;
  };
  Outcome<std::vector<Listed>> ListWithEnvelopes(MsgId after, size_t limit);

  // Changing.
  Status Update(EnvId id, const EnvelopeUpdate& u);
  Status Remove(EnvId id);          // the message and body go with its last envelope
  Status RemoveMessage(MsgId id);
  // Many updates or removals in one transaction, so one flush instead of one
  // each (qmgr's activations of a scan page, the removals of one loop turn).
  // out[i] is entry i's status: a missing envelope fails alone (kNotFound).
  std::vector<Status> UpdateMany(std::span<const std::pair<EnvId, EnvelopeUpdate>> changes);
  // `gone` (when given) receives the messages whose last envelope went.
  std::vector<Status> RemoveMany(std::span<const EnvId> ids, std::vector<MsgId>* gone = nullptr);
  // `id` names a message (≤ 32 bits: all its envelopes) or one envelope.
  Status Hold(uint64_t id);
  Status Release(uint64_t id);      // hold → deferred, due now
  Status MarkCorrupt(MsgId id, std::string_view why);  // every envelope → corrupt
  Status Uncorrupt(MsgId id);       // corrupt → deferred, due now, if the body is whole
  Status SetMessageFlags(MsgId id, uint32_t add);  // ORs `add` into the record's flags

  // Maintenance. Recover checks every body only when asked or when the system
  // restarted since the last check (queue_recover.cc says why that suffices).
  enum class BodyCheck { kAfterSystemRestart, kAll };
  RecoveryReport Recover(BodyCheck scope = BodyCheck::kAfterSystemRestart);
  int CheckReaders();               // mdb_reader_check; call on a timer
  int ResetDeadInflight();          // active envelopes of dead owners → deferred, due now
  int ReaderCount();                // reader slots in use (all processes)
  SyncStats Syncs() const;
  uint64_t MapSize();
  // Space: free bytes for unprivileged users on the queue's file system, and
  // the reserve (space.cc) that qmgr restores when there is room again.
  uint64_t AvailableBytes();
  void KeepReserve();

 private:
  Queue() = default;
  Status Init(const std::string& dir, const Options& opts);
  Status CheckFree();
  Status SyncBodies(std::span<MessageWriter* const> batch);
  template <class F>
  Status Write(F&& body, bool enqueue = false);
  template <class F>
  Status Read(F&& body);
  Status Grow(bool enqueue);
  Status EnqueueRoom();
  uint64_t UsedBytes();
  Status Adopt();
  Status CommitStatus(int rc);
  bool ReleaseReserve();  // true: there was a reserve, now freed
  Status PutEnvelope(MDB_txn* t, const Envelope* old, const Envelope& now, int64_t* deltas);
  // *last: the message went with it; *inline_body: and its body was in LMDB (no file to unlink).
  Status RemoveInTxn(MDB_txn* t, EnvId id, int64_t* deltas, bool* last, uint64_t* size, bool* inline_body);
  Status ApplyCounters(MDB_txn* t, const int64_t* deltas);
  Status Transition(uint64_t id, const std::function<bool(const Envelope&)>& applies,
                    const std::function<void(Envelope&)>& change);
  int SweepOrphans();
  int CheckBodies(int* checked);
  std::string BodyProblem(MDB_txn* t, const MessageRecord& m);
  std::string CheckedBoot();  // the boot id of the last full body check
  void MarkChecked(const std::string& boot);
  void Chown(const std::string& path);

  std::string dir_, data_dir_;
  Options opts_;
  mdb::Env env_;
  MDB_dbi msg_db_ = 0, env_db_ = 0, sched_db_ = 0, state_db_ = 0, count_db_ = 0, body_db_ = 0;
  Fd data_fd_;
  // Transactions share it; growing the map (no transaction may be open) takes it alone.
  std::shared_mutex map_mu_;
  std::atomic<uint64_t> body_syncs_{0}, dir_syncs_{0}, fs_syncs_{0}, commit_syncs_{0}, commits_{0}, inline_{0};
};

// The kernel's boot id (changes at every system start), empty without /proc.
std::string CurrentBootId();
// Key in the counter sub-database: the boot id of the last full body check.
inline constexpr std::string_view kCheckedBootKey = "body_check_boot_id";

// The start time of a process (from /proc), 0 if it does not exist.
uint64_t ProcessStartTime(pid_t pid);

}  // namespace postern::queue
