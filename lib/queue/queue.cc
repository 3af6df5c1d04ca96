// queue/queue.cc — opening the environment, transactions (map growth and
// adoption), enqueueing with batched commits (small bodies inside the
// transaction, large ones as fsynced files), and reading back.
#include "postern/queue/queue.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <mutex>
#include <optional>
#include <set>

#include "postern/config/maincf.h"
#include "postern/log/log.h"
#include "postern/queue/queue_internal.h"

namespace postern::queue {

using internal::MdbStatus;
using internal::Now;

namespace internal {

const char* const kCounterNames[kNumCounters] = {"incoming", "active",   "deferred", "hold",   "corrupt",
                                                 "messages", "bytes",    "enqueued", "removed"};

Status MdbStatus(int rc, std::string_view what) {
  Code c = Code::kIo;
  if (rc == MDB_MAP_FULL) c = Code::kMapFull;
  else if (rc == MDB_NOTFOUND) c = Code::kNotFound;
  else if (rc == ENOSPC || rc == EDQUOT) c = Code::kInsufficientStorage;
  return Fail(c, std::string(what) + ": " + mdb_strerror(rc));
}

namespace {

// One record by key, decoded; `what` names it in errors ("envelope ID").
template <class Id, class Record, class Decode, class What>
Status GetRecordIn(MDB_txn* t, MDB_dbi db, const std::string& k, Id id, Decode decode, What what, Record* out) {
  MDB_val key = mdb::Val(k), val;
  if (int rc = mdb_get(t, db, &key, &val)) return MdbStatus(rc, what());
  auto r = decode(id, mdb::View(val));
  if (!r) return Fail(Code::kCorrupt, what() + ": undecodable record");
  *out = std::move(*r);
  return Status::Ok();
}

}  // namespace

Status GetEnvelopeIn(MDB_txn* t, MDB_dbi env_db, EnvId id, Envelope* out) {
  return GetRecordIn(t, env_db, EnvKey(id), id, DecodeEnvelope, [id] { return "envelope " + FormatEnvId(id); }, out);
}

Status GetMessageIn(MDB_txn* t, MDB_dbi msg_db, MsgId id, MessageRecord* out) {
  return GetRecordIn(t, msg_db, MsgKey(id), id, DecodeMessage, [id] { return "message " + FormatMsgId(id); }, out);
}

Status LoadEnvelopes(MDB_txn* t, MDB_dbi env_db, MsgId id, std::vector<Envelope>* out) {
  int rc;
  mdb::Cursor c(t, env_db, &rc);
  if (rc) return MdbStatus(rc, "cursor");
  std::string start = EnvKey(MakeEnvId(id, 0));
  MDB_val key = mdb::Val(start), val;
  for (rc = mdb_cursor_get(c.get(), &key, &val, MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get(c.get(), &key, &val, MDB_NEXT)) {
    EnvId eid = LoadBE(mdb::View(key));
    if (MsgOf(eid) != id) break;
    auto e = DecodeEnvelope(eid, mdb::View(val));
    if (!e) return Fail(Code::kCorrupt, "envelope " + FormatEnvId(eid) + ": undecodable record");
    out->push_back(std::move(*e));
  }
  return rc == 0 || rc == MDB_NOTFOUND ? Status::Ok() : MdbStatus(rc, "cursor");
}

}  // namespace internal

const char* CodeName(Code c) {
  switch (c) {
    case Code::kOk: return "ok";
    case Code::kNotFound: return "not found";
    case Code::kInsufficientStorage: return "insufficient storage";
    case Code::kCorrupt: return "corrupt";
    case Code::kInvalid: return "invalid";
    case Code::kIo: return "i/o error";
    case Code::kConflict: return "conflict";
    case Code::kMapFull: return "map full";
  }
  return "unknown";
}

uint64_t Counters::ByState(State s) const {
  switch (s) {
    case State::kIncoming: return incoming;
    case State::kActive: return active;
    case State::kDeferred: return deferred;
    case State::kHold: return hold;
    case State::kCorrupt: return corrupt;
  }
  return 0;
}

Outcome<Options> OptionsFromConfig(const config::Config& cfg) {
  Options o;
  auto minfree = cfg.GetSize("queue_minfree");
  auto mapsize = cfg.GetSize("queue_map_size");
  auto reserve = cfg.GetSize("queue_reserve_size");
  for (const std::string* e : {minfree.ok() ? nullptr : &minfree.error(), mapsize.ok() ? nullptr : &mapsize.error(),
                               reserve.ok() ? nullptr : &reserve.error()}) {
    if (e) return Fail(Code::kInvalid, *e);
  }
  o.min_free = *minfree;
  o.map_size_limit = *mapsize;
  o.reserve_size = *reserve;
  o.initial_map_size = std::min<uint64_t>(o.initial_map_size, o.map_size_limit);
  if (::geteuid() == 0) {
    std::string user = cfg.Str("mail_owner");
    struct passwd pw, *res = nullptr;
    char buf[4096];
    if (getpwnam_r(user.c_str(), &pw, buf, sizeof buf, &res) != 0 || !res) {
      return Fail(Code::kInvalid, "mail_owner " + user + ": no such user");
    }
    o.owner = Owner{pw.pw_uid, pw.pw_gid};
  }
  return o;
}

Outcome<std::unique_ptr<Queue>> Queue::Open(const std::string& dir, const Options& opts) {
  std::unique_ptr<Queue> q(new Queue());
  if (Status s = q->Init(dir, opts); !s.ok()) return s;
  if (opts.recover) q->Recover();
  return q;
}

Queue::~Queue() = default;

void Queue::Chown(const std::string& path) {
  if (opts_.owner && ::chown(path.c_str(), opts_.owner->uid, opts_.owner->gid) != 0) {
    log::Warning("chown {}: {}", path, std::strerror(errno));
  }
}

namespace {

// mkdir that tells whether it created the directory.
Status MakeDir(const std::string& path, bool* created) {
  *created = false;
  if (::mkdir(path.c_str(), 0700) == 0) {
    *created = true;
    return Status::Ok();
  }
  if (errno == EEXIST) return Status::Ok();
  return ErrnoStatus(errno, "mkdir " + path);
}

Status SyncDir(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid() || ::fsync(fd.get()) != 0) return ErrnoStatus(errno, "fsync " + path);
  return Status::Ok();
}

}  // namespace

Status Queue::Init(const std::string& dir, const Options& opts) {
  dir_ = dir;
  opts_ = opts;
  data_dir_ = dir + "/data";
  bool created_top, created_data, created_sub = false;
  if (Status s = MakeDir(dir_, &created_top); !s.ok()) return s;
  if (created_top) Chown(dir_);
  if (Status s = MakeDir(data_dir_, &created_data); !s.ok()) return s;
  if (created_data) Chown(data_dir_);
  // All 256 buckets exist from the start, so enqueueing never creates a directory.
  // They are made in order: the last one there means all are (one stat, not
  // 256 mkdirs, for each of the many worker starts).
  struct stat last;
  bool have_all = !created_data && ::stat(BodyDir(data_dir_, 0xff).c_str(), &last) == 0;
  for (unsigned b = 0; b < 256 && !have_all; ++b) {
    std::string sub = BodyDir(data_dir_, b);
    bool c;
    if (Status s = MakeDir(sub, &c); !s.ok()) return s;
    if (c) Chown(sub);
    created_sub |= c;
  }
  if (created_sub) {
    if (Status s = SyncDir(data_dir_); !s.ok()) return s;
  }
  if (created_data || created_top) {
    if (Status s = SyncDir(dir_); !s.ok()) return s;
  }
  data_fd_ = Fd(::open(data_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!data_fd_.valid()) return ErrnoStatus(errno, "open " + data_dir_);

  MDB_env* raw = nullptr;
  if (int rc = mdb_env_create(&raw)) return MdbStatus(rc, "mdb_env_create");
  env_ = mdb::Env(raw);
  mdb_env_set_maxdbs(raw, 8);
  mdb_env_set_maxreaders(raw, 510);
  mdb_env_set_mapsize(raw, std::min(opts_.initial_map_size, opts_.map_size_limit));
  std::string path = dir_ + "/queue.lmdb";
  unsigned env_flags = MDB_NOSUBDIR | MDB_NOTLS | (opts_.meta_sync ? 0u : unsigned(MDB_NOMETASYNC));
  if (int rc = mdb_env_open(raw, path.c_str(), env_flags, 0600)) {
    return MdbStatus(rc, "open " + path);
  }
  Chown(path);
  Chown(path + "-lock");
  int fd = -1;
  if (mdb_env_get_fd(raw, &fd) == 0) ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC);
  CheckReaders();

  // Open the sub-databases read-only when they exist; create them once otherwise.
  for (unsigned flags : {0u, static_cast<unsigned>(MDB_CREATE)}) {
    MDB_txn* t = nullptr;
    int rc = mdb_txn_begin(raw, nullptr, flags ? 0 : MDB_RDONLY, &t);
    if (rc) return MdbStatus(rc, "begin");
    mdb::Txn txn(t);
    rc = 0;
    for (auto [name, dbi] : {std::pair{"msg", &msg_db_}, {"env", &env_db_}, {"sched", &sched_db_},
                             {"state", &state_db_}, {"count", &count_db_}, {"body", &body_db_}}) {
      if (!rc) rc = mdb_dbi_open(t, name, flags, dbi);
    }
    if (rc == MDB_NOTFOUND && !flags) continue;
    if (!rc) rc = txn.Commit();
    if (rc) return MdbStatus(rc, "open sub-databases");
    break;
  }
  return Status::Ok();
}

Status Queue::Adopt() {
  std::unique_lock lk(map_mu_);
  if (int rc = mdb_env_set_mapsize(env_.get(), 0)) return MdbStatus(rc, "adopt map size");
  return Status::Ok();
}

Status Queue::Grow(bool enqueue) {
  std::unique_lock lk(map_mu_);
  MDB_envinfo info;
  mdb_env_info(env_.get(), &info);
  uint64_t cur = info.me_mapsize;
  uint64_t bound = opts_.map_size_limit + (enqueue ? 0 : opts_.map_size_limit / 8);
  if (cur >= bound) {
    return Fail(Code::kInsufficientStorage, "queue map full at queue_map_size " + std::to_string(opts_.map_size_limit));
  }
  uint64_t next = std::min(bound, cur * 2);
  if (int rc = mdb_env_set_mapsize(env_.get(), next)) return MdbStatus(rc, "grow map");
  log::Info("queue map grown to {} bytes", next);
  return Status::Ok();
}

// Pages in use: the file's high-water mark less the pages on LMDB's free list.
uint64_t Queue::UsedBytes() {
  uint64_t used = UINT64_MAX;
  (void)Read([&](MDB_txn* t) {
    used = internal::UsedBytesIn(env_.get(), t);
    return Status::Ok();
  });
  return used;
}

// A removal may have grown the map into the reserve; enqueueing must not follow
// it there while the pages in use exceed queue_map_size.
Status Queue::EnqueueRoom() {
  if (MapSize() <= opts_.map_size_limit) return Status::Ok();
  if (UsedBytes() < opts_.map_size_limit) return Status::Ok();
  return Fail(Code::kInsufficientStorage, "queue map full at queue_map_size " + std::to_string(opts_.map_size_limit));
}

uint64_t Queue::MapSize() {
  std::shared_lock lk(map_mu_);
  MDB_envinfo info;
  mdb_env_info(env_.get(), &info);
  return info.me_mapsize;
}

Status Queue::CheckFree() {
  if (opts_.min_free == 0) return Status::Ok();
  uint64_t avail = AvailableBytes();
  if (avail < opts_.min_free) {
    return Fail(Code::kInsufficientStorage, "free space " + std::to_string(avail) +
                                                " below queue_minfree " + std::to_string(opts_.min_free));
  }
  return Status::Ok();
}

Outcome<std::unique_ptr<MessageWriter>> Queue::Begin(MessageRecord rec) {
  if (Status s = CheckFree(); !s.ok()) return s;
  if (rec.sender.size() > kMaxAddress) return Fail(Code::kInvalid, "sender too long");
  if (rec.arrival == 0) rec.arrival = Now();
  for (int tries = 0; tries < 32; ++tries) {
    MsgId id = RandomMsgId();
    MessageRecord existing;
    Status in_db = Read([&](MDB_txn* t) { return internal::GetMessageIn(t, msg_db_, id, &existing); });
    if (in_db.ok() || in_db.code != Code::kNotFound) {
      if (in_db.ok() || in_db.code == Code::kCorrupt) continue;  // taken
      return in_db;
    }
    // No file yet: a body that outgrows inline_body_max creates it then.
    rec.id = id;
    return std::unique_ptr<MessageWriter>(new MessageWriter(
        std::move(rec), BodyWriter::Create(data_dir_, id, opts_.owner, opts_.inline_body_max)));
  }
  return Fail(Code::kIo, "no free message id after 32 tries");
}

Status MessageWriter::AddRecipient(Recipient r) {
  if (r.address.size() > kMaxAddress || r.orig_recipient.size() > kMaxAddress) {
    return Fail(Code::kInvalid, "recipient address too long");
  }
  rcpts_.push_back(std::move(r));
  return Status::Ok();
}

Outcome<MsgId> Queue::Commit(std::unique_ptr<MessageWriter> w) {
  MessageWriter* one[] = {w.get()};
  Status s = std::move(CommitBatch(one)[0]);
  if (!s.ok()) return s;
  return w->id();
}

// Body files must be on disk before the transaction that names them: one
// syncfs for a real batch (cheaper than N file + N directory syncs), else one
// by one. Inline bodies ride in the transaction and need nothing here.
Status Queue::SyncBodies(std::span<MessageWriter* const> all) {
  std::vector<MessageWriter*> batch;
  for (MessageWriter* w : all) {
    if (!w->body_.has_file()) continue;
    if (Status s = w->body_.Flush(); !s.ok()) return s;
    batch.push_back(w);
  }
  if (batch.empty()) return Status::Ok();
  if (batch.size() >= 4) {
    fs_syncs_++;
    if (::syncfs(data_fd_.get()) != 0) return ErrnoStatus(errno, "syncfs " + data_dir_);
    return Status::Ok();
  }
  std::set<MsgId> dirs;
  for (MessageWriter* w : batch) {
    body_syncs_++;
    if (Status s = w->body_.Sync(); !s.ok()) return s;
    dirs.insert(w->id() & 0xffu);
  }
  for (MsgId b : dirs) {
    dir_syncs_++;
    if (Status s = SyncDir(BodyDir(data_dir_, b)); !s.ok()) return s;
  }
  return Status::Ok();
}

std::vector<Status> Queue::CommitBatch(std::span<MessageWriter* const> batch) {
  std::vector<Status> out(batch.size());
  std::vector<MessageWriter*> ready;
  for (size_t i = 0; i < batch.size(); ++i) {
    MessageWriter* w = batch[i];
    if (w->rcpts_.empty()) out[i] = Fail(Code::kInvalid, "message has no recipients");
    else if (!w->body_.error().ok()) out[i] = w->body_.error();
    else ready.push_back(w);
  }
  Status s = CheckFree();
  if (s.ok() && !ready.empty()) s = EnqueueRoom();
  if (s.ok() && !ready.empty()) s = SyncBodies(ready);
  // Another process may have committed the same random id since Begin (2^-32):
  // that message alone is refused, the rest of the batch goes on.
  std::vector<char> taken(ready.size(), 0);
  if (s.ok() && !ready.empty()) {
    int64_t now = Now();
    s = Write([&](MDB_txn* t) -> Status {
      int64_t deltas[internal::kNumCounters] = {};
      std::fill(taken.begin(), taken.end(), 0);  // Write may run this body again
      for (size_t wi = 0; wi < ready.size(); ++wi) {
        MessageWriter* w = ready[wi];
        MessageRecord& rec = w->rec_;
        rec.size = w->body_.size();
        rec.nrcpt = static_cast<uint32_t>(w->rcpts_.size());
        auto value = EncodeMessage(rec);
        if (!value) return Fail(Code::kInvalid, "message record field too long");
        std::string k = MsgKey(rec.id);
        MDB_val key = mdb::Val(k), val = mdb::Val(*value);
        if (int rc = mdb_put(t, msg_db_, &key, &val, MDB_NOOVERWRITE)) {
          if (rc != MDB_KEYEXIST) return MdbStatus(rc, "put message");
          taken[wi] = 1;
          continue;
        }
        if (w->body_.is_inline()) {
          MDB_val bval = mdb::Val(w->body_.inline_data());
          if (int rc = mdb_put(t, body_db_, &key, &bval, 0)) return MdbStatus(rc, "put body");
        }
        std::set<uint32_t> lows;
        for (const Recipient& r : w->rcpts_) {
          Envelope e;
          uint32_t low;
          do low = RandomLow32(); while (!lows.insert(low).second);
          e.id = MakeEnvId(rec.id, low);
          e.recipient = r.address;
          e.orig_recipient = r.orig_recipient;
          e.notify = r.notify;
          if (w->hold_) e.state = State::kHold;
          e.filter = w->filter_;
          e.created = now;
          e.next_attempt = now;
          if (Status p = PutEnvelope(t, nullptr, e, deltas); !p.ok()) return p;
        }
        deltas[internal::kMessages]++;
        deltas[internal::kEnqueued]++;
        deltas[internal::kBytes] += static_cast<int64_t>(rec.size);
      }
      return ApplyCounters(t, deltas);
    }, true);
  }
  if (s.code == Code::kMapFull) s.code = Code::kInsufficientStorage;
  size_t j = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    MessageWriter* w = batch[i];
    if (j < ready.size() && ready[j] == w) {
      out[i] = s.ok() && taken[j] ? Fail(Code::kIo, "queue id " + FormatMsgId(w->id()) + " collided") : s;
      ++j;
    }
    if (out[i].ok()) {
      if (w->body_.is_inline()) inline_++;
      w->body_.Close();
      commits_++;
    } else {
      w->body_.Remove();
    }
  }
  return out;
}

Status Queue::PutEnvelope(MDB_txn* t, const Envelope* old, const Envelope& now, int64_t* deltas) {
  auto value = EncodeEnvelope(now);
  if (!value) return Fail(Code::kInvalid, "envelope field too long");
  static const std::string kEmpty;
  MDB_val empty = mdb::Val(kEmpty);
  if (old) {
    std::string sk = StateKey(old->state, old->id);
    MDB_val key = mdb::Val(sk);
    if (int rc = mdb_del(t, state_db_, &key, nullptr); rc && rc != MDB_NOTFOUND) return MdbStatus(rc, "del state");
    if (Scheduled(old->state)) {
      std::string k = SchedKey(old->next_attempt, old->id);
      key = mdb::Val(k);
      if (int rc = mdb_del(t, sched_db_, &key, nullptr); rc && rc != MDB_NOTFOUND) return MdbStatus(rc, "del sched");
    }
    deltas[internal::Slot(old->state)]--;
  }
  std::string ek = EnvKey(now.id), sk = StateKey(now.state, now.id);
  MDB_val key = mdb::Val(ek), val = mdb::Val(*value);
  if (int rc = mdb_put(t, env_db_, &key, &val, 0)) return MdbStatus(rc, "put envelope");
  key = mdb::Val(sk);
  if (int rc = mdb_put(t, state_db_, &key, &empty, 0)) return MdbStatus(rc, "put state");
  if (Scheduled(now.state)) {
    std::string k = SchedKey(now.next_attempt, now.id);
    key = mdb::Val(k);
    if (int rc = mdb_put(t, sched_db_, &key, &empty, 0)) return MdbStatus(rc, "put sched");
  }
  deltas[internal::Slot(now.state)]++;
  return Status::Ok();
}

Status Queue::ApplyCounters(MDB_txn* t, const int64_t* deltas) {
  for (int i = 0; i < internal::kNumCounters; ++i) {
    if (deltas[i] == 0) continue;
    std::string_view name = internal::kCounterNames[i];
    MDB_val key = mdb::Val(name), val;
    uint64_t cur = 0;
    int rc = mdb_get(t, count_db_, &key, &val);
    if (rc == 0) cur = LoadBE(mdb::View(val));
    else if (rc != MDB_NOTFOUND) return MdbStatus(rc, "get counter");
    int64_t next = static_cast<int64_t>(cur) + deltas[i];
    std::string v;
    AppendBE(&v, next < 0 ? 0 : static_cast<uint64_t>(next), 8);
    val = mdb::Val(v);
    if ((rc = mdb_put(t, count_db_, &key, &val, 0))) return MdbStatus(rc, "put counter");
  }
  return Status::Ok();
}

Outcome<MessageRecord> Queue::GetMessage(MsgId id) {
  MessageRecord m;
  if (Status s = Read([&](MDB_txn* t) { return internal::GetMessageIn(t, msg_db_, id, &m); }); !s.ok()) return s;
  return m;
}

Outcome<Envelope> Queue::GetEnvelope(EnvId id) {
  Envelope e;
  if (Status s = Read([&](MDB_txn* t) { return internal::GetEnvelopeIn(t, env_db_, id, &e); }); !s.ok()) return s;
  return e;
}

Outcome<std::vector<Envelope>> Queue::Envelopes(MsgId id) {
  std::vector<Envelope> out;
  Status s = Read([&](MDB_txn* t) { return internal::LoadEnvelopes(t, env_db_, id, &out); });
  if (!s.ok()) return s;
  if (out.empty()) return Fail(Code::kNotFound, "message " + FormatMsgId(id) + ": no envelopes");
  return out;
}

// A copy of an inline body, so that no read transaction outlives this call.
Outcome<BodyReader> Queue::OpenBody(MsgId id) {
  std::optional<std::string> text;
  Status s = Read([&](MDB_txn* t) -> Status {
    std::string k = MsgKey(id);
    MDB_val key = mdb::Val(k), val;
    int rc = mdb_get(t, body_db_, &key, &val);
    if (rc == 0) text.emplace(mdb::View(val));
    return rc == 0 || rc == MDB_NOTFOUND ? Status::Ok() : MdbStatus(rc, "body " + FormatMsgId(id));
  });
  if (!s.ok()) return s;
  if (text) return BodyReader::FromMemory(std::move(*text));
  return BodyReader::Open(BodyPath(data_dir_, id));
}

uint64_t Queue::InlineBodyCount() {
  uint64_t n = 0;
  (void)Read([&](MDB_txn* t) -> Status {
    MDB_stat st;
    if (mdb_stat(t, body_db_, &st) == 0) n = st.ms_entries;
    return Status::Ok();
  });
  return n;
}

Counters Queue::GetCounters() {
  uint64_t v[internal::kNumCounters] = {};
  Status s = Read([&](MDB_txn* t) {
    for (int i = 0; i < internal::kNumCounters; ++i) {
      std::string_view name = internal::kCounterNames[i];
      MDB_val key = mdb::Val(name), val;
      if (mdb_get(t, count_db_, &key, &val) == 0) v[i] = LoadBE(mdb::View(val));
    }
    return Status::Ok();
  });
  if (!s.ok()) log::Warning("queue counters: {}", s.message);
  Counters c;
  c.incoming = v[0], c.active = v[1], c.deferred = v[2], c.hold = v[3], c.corrupt = v[4];
  c.messages = v[internal::kMessages], c.bytes = v[internal::kBytes];
  c.enqueued = v[internal::kEnqueued], c.removed = v[internal::kRemoved];
  return c;
}

SyncStats Queue::Syncs() const {
  return SyncStats{body_syncs_.load(), dir_syncs_.load(), fs_syncs_.load(), commit_syncs_.load(), commits_.load(),
                   inline_.load()};
}

}  // namespace postern::queue
