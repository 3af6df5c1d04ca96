// queue/queue_test.cc — every Queue call against a real LMDB environment in a
// temporary directory: enqueue, abort, read, update, remove, hold, corrupt,
// iteration order, recovery, map growth and insufficient storage.
#include "postern/queue/lifetime.h"
#include "postern/queue/queue.h"
#include "postern/queue/testing.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "postern/config/maincf.h"

namespace postern::queue {
namespace {

namespace fs = std::filesystem;

// Param: small bodies inline in LMDB (true) or every body a file (false).
class QueueTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    std::string tmpl = fs::temp_directory_path() / "queue_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    Reopen(Opts());
  }
  bool Inline() const { return GetParam(); }
  Options Opts() const {
    Options o;
    o.inline_body_max = Inline() ? kDefaultInlineBodyMax : 0;
    return o;
  }
  // Bodies stored either way.
  size_t Bodies() { return BodyFiles() + q_->InlineBodyCount(); }
  void TearDown() override {
    q_.reset();
    fs::remove_all(dir_);
  }
  void Reopen(const Options& o) {
    q_.reset();
    auto q = Queue::Open(dir_, o);
    ASSERT_TRUE(q.ok()) << q.status().message;
    q_ = std::move(*q);
  }
  // Enqueues one message with `n` recipients and the given body.
  MsgId Enqueue(const std::string& body, int n = 1, std::string sender = "a@example.org") {
    MessageRecord rec;
    rec.sender = sender;
    std::vector<std::string> rcpts;
    for (int i = 0; i < n; ++i) rcpts.push_back("r" + std::to_string(i) + "@example.net");
    return testing::EnqueueOne(*q_, rec, body, rcpts);
  }
  std::string ReadBody(MsgId id) {
    auto r = q_->OpenBody(id);
    EXPECT_TRUE(r.ok());
    std::string out;
    char buf[8192];
    for (;;) {
      auto n = r->Read(buf, sizeof buf);
      EXPECT_TRUE(n.ok());
      if (!n.ok() || *n == 0) break;
      out.append(buf, *n);
    }
    return out;
  }
  size_t BodyFiles() {
    size_t n = 0;
    for (auto& e : fs::recursive_directory_iterator(dir_ + "/data")) n += e.is_regular_file();
    return n;
  }
  EnvId FirstEnvelope(MsgId id) { return (*q_->Envelopes(id))[0].id; }

  std::string dir_;
  std::unique_ptr<Queue> q_;
};

TEST_P(QueueTest, EnqueueAndReadBack) {
  MessageRecord rec;
  rec.sender = "alice@example.org";
  rec.client_name = "client.example";
  rec.client_addr = "192.0.2.1";
  rec.helo = "client.example";
  rec.protocol = "ESMTP";
  rec.auth_user = "alice";
  rec.dsn_envid = "ENV1";
  rec.dsn_ret = DsnRet::kFull;
  rec.flags = kFlag8BitMime;
  auto w = q_->Begin(rec);
  ASSERT_TRUE(w.ok());
  MsgId id = (*w)->id();
  std::string body;
  for (int i = 0; i < 5000; ++i) body += "line " + std::to_string(i) + " of a body that is longer than one buffer\r\n";
  for (size_t off = 0; off < body.size(); off += 1000) ASSERT_TRUE((*w)->Append(body.substr(off, 1000)).ok());
  ASSERT_TRUE((*w)->AddRecipient({"bob@example.net", "rfc822;Bob@example.net", kNotifyFailure}).ok());
  ASSERT_TRUE((*w)->AddRecipient({"carol@example.net", "", 0}).ok());
  auto committed = q_->Commit(std::move(*w));
  ASSERT_TRUE(committed.ok()) << committed.status().message;
  EXPECT_EQ(*committed, id);

  auto m = q_->GetMessage(id);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->sender, "alice@example.org");
  EXPECT_EQ(m->size, body.size());
  EXPECT_EQ(m->nrcpt, 2u);
  EXPECT_EQ(m->client_addr, "192.0.2.1");
  EXPECT_EQ(m->dsn_ret, DsnRet::kFull);
  EXPECT_EQ(m->flags, kFlag8BitMime);
  EXPECT_GT(m->arrival, 0);
  EXPECT_EQ(ReadBody(id), body);

  auto envs = q_->Envelopes(id);
  ASSERT_TRUE(envs.ok());
  ASSERT_EQ(envs->size(), 2u);
  for (const Envelope& e : *envs) {
    EXPECT_EQ(MsgOf(e.id), id);  // upper 32 bits are the message id
    EXPECT_NE(e.id & 0xffffffffu, 0u);
    EXPECT_EQ(e.state, State::kIncoming);
    EXPECT_EQ(e.expiry, 0);  // qmgr's lifetimes decide it (lifetime.h)
    EXPECT_EQ((*q_->GetEnvelope(e.id)).recipient, e.recipient);
  }
  Counters c = q_->GetCounters();
  EXPECT_EQ(c.messages, 1u);
  EXPECT_EQ(c.incoming, 2u);
  EXPECT_EQ(c.bytes, body.size());
  EXPECT_EQ(c.enqueued, 1u);
}

TEST(Lifetimes, NullSenderGetsBounceLifetime) {
  Lifetimes l{5 * 86400, 3600};
  MessageRecord m;
  m.arrival = 1000;
  m.sender = "a@example.org";
  EXPECT_EQ(l.ExpiryOf(m), 1000 + 5 * 86400);
  m.sender.clear();
  EXPECT_EQ(l.ExpiryOf(m), 1000 + 3600);
}

TEST_P(QueueTest, AbortLeavesNothing) {
  {
    auto w = q_->Begin({});
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append("partial").ok());
    EXPECT_EQ(BodyFiles(), Inline() ? 0u : 1u);  // an inline body has no file until it outgrows the limit
    (*w)->Abort();
    EXPECT_EQ(BodyFiles(), 0u);
  }
  {
    auto w = q_->Begin({});
    ASSERT_TRUE((*w)->Append("dropped without commit").ok());
  }  // destroyed uncommitted
  EXPECT_EQ(BodyFiles(), 0u);
  auto w = q_->Begin({});
  ASSERT_TRUE((*w)->Append("no recipients").ok());
  MsgId id = (*w)->id();
  auto r = q_->Commit(std::move(*w));
  EXPECT_EQ(r.code(), Code::kInvalid);
  EXPECT_EQ(q_->GetMessage(id).code(), Code::kNotFound);
  EXPECT_EQ(BodyFiles(), 0u);
  EXPECT_EQ(q_->GetCounters().messages, 0u);
}

TEST_P(QueueTest, RecipientTooLongIsRefused) {
  auto w = q_->Begin({});
  EXPECT_EQ((*w)->AddRecipient({std::string(kMaxAddress + 1, 'a'), "", 0}).code, Code::kInvalid);
  MessageRecord rec;
  rec.sender.assign(kMaxAddress + 1, 's');
  EXPECT_EQ(q_->Begin(rec).code(), Code::kInvalid);
}

TEST_P(QueueTest, BatchCommitUsesOneTransaction) {
  std::vector<std::unique_ptr<MessageWriter>> ws;
  for (int i = 0; i < 6; ++i) {
    auto w = q_->Begin({});
    ASSERT_TRUE((*w)->Append("body " + std::to_string(i)).ok());
    if (i != 3) {
      ASSERT_TRUE((*w)->AddRecipient({"x@example.net", "", 0}).ok());
    }
    ws.push_back(std::move(*w));
  }
  std::vector<MessageWriter*> raw;
  for (auto& w : ws) raw.push_back(w.get());
  uint64_t before = q_->Syncs().commit_syncs;
  auto st = q_->CommitBatch(raw);
  EXPECT_EQ(q_->Syncs().commit_syncs, before + 1);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(st[i].ok(), i != 3) << i;  // one invalid does not sink the rest
  EXPECT_EQ(q_->GetCounters().messages, 5u);
  EXPECT_EQ(Bodies(), 5u);
  EXPECT_EQ(q_->InlineBodyCount(), Inline() ? 5u : 0u);
  EXPECT_EQ(q_->Syncs().body_syncs + q_->Syncs().fs_syncs, Inline() ? 0u : 1u);  // files: one syncfs
}

TEST_P(QueueTest, UpdateMovesBetweenStateSetsAndSchedule) {
  MsgId id = Enqueue("body");
  EnvId e = FirstEnvelope(id);
  EnvelopeUpdate u;
  u.state = State::kDeferred;
  u.next_attempt = 2000000000;
  u.attempts = 3;
  u.last_error = "451 4.4.1 connection timed out";
  u.last_attempt = 1999999000;
  u.transport = "smtp";
  u.nexthop = "example.net";
  ASSERT_TRUE(q_->Update(e, u).ok());
  Envelope got = *q_->GetEnvelope(e);
  EXPECT_EQ(got.state, State::kDeferred);
  EXPECT_EQ(got.attempts, 3u);
  EXPECT_EQ(got.last_error, *u.last_error);
  EXPECT_EQ(got.nexthop, "example.net");
  EXPECT_TRUE(q_->ListByState(State::kIncoming, 0, 10)->empty());
  EXPECT_EQ(q_->ListByState(State::kDeferred, 0, 10)->size(), 1u);
  ScheduleCursor cur;
  EXPECT_TRUE(q_->ListScheduled(&cur, 1999999999, 10)->empty());  // not due yet
  cur = {};
  EXPECT_EQ(q_->ListScheduled(&cur, 2000000000, 10)->size(), 1u);

  u = {};
  u.state = State::kActive;
  ASSERT_TRUE(q_->Update(e, u).ok());
  got = *q_->GetEnvelope(e);
  EXPECT_EQ(got.owner_pid, static_cast<uint32_t>(getpid()));
  cur = {};
  EXPECT_TRUE(q_->ListScheduled(&cur, INT64_MAX, 10)->empty());  // in flight: not scheduled
  EXPECT_EQ(q_->ResetDeadInflight(), 0);  // we are alive
  Counters c = q_->GetCounters();
  EXPECT_EQ(c.active, 1u);
  EXPECT_EQ(c.deferred + c.incoming, 0u);
  EXPECT_EQ(q_->Update(MakeEnvId(id, 12345), u).code, Code::kNotFound);
}

TEST_P(QueueTest, RemoveLastEnvelopeTakesMessageAndBody) {
  MsgId id = Enqueue("body", 2);
  auto envs = *q_->Envelopes(id);
  ASSERT_TRUE(q_->Remove(envs[0].id).ok());
  EXPECT_TRUE(q_->GetMessage(id).ok());
  EXPECT_EQ(Bodies(), 1u);
  EXPECT_EQ(q_->Remove(envs[0].id).code, Code::kNotFound);
  ASSERT_TRUE(q_->Remove(envs[1].id).ok());
  EXPECT_EQ(q_->GetMessage(id).code(), Code::kNotFound);
  EXPECT_EQ(Bodies(), 0u);
  Counters c = q_->GetCounters();
  EXPECT_EQ(c.messages, 0u);
  EXPECT_EQ(c.incoming, 0u);
  EXPECT_EQ(c.bytes, 0u);
  EXPECT_EQ(c.removed, 2u);
  EXPECT_EQ(c.enqueued, 1u);

  MsgId id2 = Enqueue("other", 3);
  ASSERT_TRUE(q_->RemoveMessage(id2).ok());
  EXPECT_EQ(Bodies(), 0u);
  EXPECT_EQ(q_->GetCounters().incoming, 0u);
  EXPECT_EQ(q_->RemoveMessage(id2).code, Code::kNotFound);
}

TEST_P(QueueTest, UpdateManyAndRemoveManyChangeAllInOneCommitAndFailMissingOnesAlone) {
  MsgId a = Enqueue("first", 2), b = Enqueue("second", 1);
  auto ea = *q_->Envelopes(a);
  EnvId eb = FirstEnvelope(b);
  EnvId missing = MakeEnvId(a, 1);  // a's envelopes have random low halves
  while (missing == ea[0].id || missing == ea[1].id) ++missing;
  EnvelopeUpdate active;
  active.state = State::kActive;
  uint64_t commits = q_->Syncs().commit_syncs;
  std::vector<std::pair<EnvId, EnvelopeUpdate>> ups = {{ea[0].id, active}, {missing, active}, {eb, active}};
  auto st = q_->UpdateMany(ups);
  ASSERT_EQ(st.size(), 3u);
  EXPECT_TRUE(st[0].ok());
  EXPECT_EQ(st[1].code, Code::kNotFound);
  EXPECT_TRUE(st[2].ok());
  EXPECT_EQ(q_->Syncs().commit_syncs, commits + 1);
  EXPECT_EQ(q_->GetCounters().active, 2u);
  EXPECT_EQ(q_->GetCounters().incoming, 1u);

  std::vector<EnvId> ids = {ea[0].id, eb, eb, missing};
  std::vector<MsgId> gone;
  auto rm = q_->RemoveMany(ids, &gone);
  EXPECT_EQ(gone, std::vector<MsgId>{b});  // a keeps one envelope
  ASSERT_EQ(rm.size(), 4u);
  EXPECT_TRUE(rm[0].ok());
  EXPECT_TRUE(rm[1].ok());
  EXPECT_EQ(rm[2].code, Code::kNotFound);  // already gone earlier in the same batch
  EXPECT_EQ(rm[3].code, Code::kNotFound);
  EXPECT_EQ(q_->Syncs().commit_syncs, commits + 2);
  EXPECT_TRUE(q_->GetMessage(a).ok());  // one envelope of a is left
  EXPECT_EQ(q_->GetMessage(b).code(), Code::kNotFound);
  EXPECT_EQ(Bodies(), 1u);  // b's body went with its last envelope
  Counters c = q_->GetCounters();
  EXPECT_EQ(c.messages, 1u);
  EXPECT_EQ(c.active, 0u);
  EXPECT_EQ(c.incoming, 1u);
  EXPECT_EQ(c.removed, 2u);
}

// Two queue managers (old and new, during a reload) read the same due
// envelope; the claim is checked in the write transaction, so only the first
// activates it and the second is told, without changing anything.
TEST_P(QueueTest, AClaimOfAnEnvelopeThatChangedSinceItWasReadFailsAndChangesNothing) {
  MsgId a = Enqueue("claimed", 2);
  auto read = *q_->Envelopes(a);  // both scanners read this page
  EnvelopeUpdate claim;
  claim.expect = Expected::Of(read[0]);
  claim.state = State::kActive;
  claim.transport = "smtp";
  ASSERT_TRUE(q_->Update(read[0].id, claim).ok());                    // the first claim wins
  EXPECT_EQ(q_->Update(read[0].id, claim).code, Code::kConflict);     // the second finds it taken
  std::vector<std::pair<EnvId, EnvelopeUpdate>> page = {{read[0].id, claim}, {read[1].id, claim}};
  page[1].second.expect = Expected::Of(read[1]);
  auto st = q_->UpdateMany(page);
  EXPECT_EQ(st[0].code, Code::kConflict);
  EXPECT_TRUE(st[1].ok());
  EXPECT_EQ(q_->GetCounters().active, 2u);

  // Deferred again by its owner: a claim from the old read (due then) fails too.
  EnvelopeUpdate back;
  back.state = State::kDeferred;
  back.next_attempt = read[0].next_attempt + 3600;
  ASSERT_TRUE(q_->Update(read[0].id, back).ok());
  claim.expect = Expected::Of(read[0]);
  EXPECT_EQ(q_->Update(read[0].id, claim).code, Code::kConflict);
  Envelope now = *q_->GetEnvelope(read[0].id);
  EXPECT_EQ(now.state, State::kDeferred);
  EXPECT_EQ(now.owner_pid, 0u);
  claim.expect = Expected::Of(now);  // a fresh read may claim it
  EXPECT_TRUE(q_->Update(read[0].id, claim).ok());
}

TEST_P(QueueTest, HoldAndReleaseByMessageAndEnvelope) {
  MsgId id = Enqueue("body", 2);
  auto envs = *q_->Envelopes(id);
  ASSERT_TRUE(q_->Hold(envs[0].id).ok());
  EXPECT_EQ(q_->GetCounters().hold, 1u);
  EXPECT_EQ(q_->Hold(envs[0].id).code, Code::kInvalid);  // already held
  ASSERT_TRUE(q_->Hold(id).ok());                        // the rest of the message
  Counters c = q_->GetCounters();
  EXPECT_EQ(c.hold, 2u);
  EXPECT_EQ(c.incoming, 0u);
  ScheduleCursor cur;
  EXPECT_TRUE(q_->ListScheduled(&cur, INT64_MAX, 10)->empty());
  ASSERT_TRUE(q_->Release(envs[1].id).ok());
  EXPECT_EQ(q_->GetEnvelope(envs[1].id)->state, State::kDeferred);
  ASSERT_TRUE(q_->Release(id).ok());
  c = q_->GetCounters();
  EXPECT_EQ(c.hold, 0u);
  EXPECT_EQ(c.deferred, 2u);
  EXPECT_EQ(q_->Release(id).code, Code::kInvalid);
  EXPECT_EQ(q_->Hold(0x0badf00d).code, Code::kNotFound);
}

TEST_P(QueueTest, CorruptAndUncorrupt) {
  MsgId id = Enqueue("body", 2);
  ASSERT_TRUE(q_->MarkCorrupt(id, "test").ok());
  Counters c = q_->GetCounters();
  EXPECT_EQ(c.corrupt, 2u);
  EXPECT_EQ(c.incoming, 0u);
  EXPECT_EQ(q_->ListByState(State::kCorrupt, 0, 10)->size(), 2u);
  ASSERT_TRUE(q_->Uncorrupt(id).ok());
  EXPECT_EQ(q_->GetCounters().deferred, 2u);
  if (Inline()) return;  // the rest truncates the body file by hand
  // A truncated body cannot be uncorrupted.
  ASSERT_TRUE(q_->MarkCorrupt(id, "test").ok());
  fs::resize_file(dir_ + "/data/" + FormatMsgId(id).substr(6) + "/" + FormatMsgId(id), 2);
  EXPECT_EQ(q_->Uncorrupt(id).code, Code::kCorrupt);
  EXPECT_EQ(q_->GetCounters().corrupt, 2u);
}

TEST_P(QueueTest, ScheduleIterationIsInTimeOrderAndPages) {
  std::vector<int64_t> times = {5000, 1000, 3000, 1000, 4000, 2000};
  for (int64_t t : times) {
    EnvId e = FirstEnvelope(Enqueue("b"));
    EnvelopeUpdate u;
    u.state = State::kDeferred;
    u.next_attempt = t;
    ASSERT_TRUE(q_->Update(e, u).ok());
  }
  std::vector<int64_t> seen;
  ScheduleCursor cur;
  for (;;) {
    auto page = q_->ListScheduled(&cur, 4000, 2);
    ASSERT_TRUE(page.ok());
    if (page->empty()) break;
    EXPECT_LE(page->size(), 2u);
    for (const Envelope& e : *page) seen.push_back(e.next_attempt);
  }
  EXPECT_EQ(seen, (std::vector<int64_t>{1000, 1000, 2000, 3000, 4000}));
}

TEST_P(QueueTest, StateIterationStreamsInPages) {
  for (int i = 0; i < 25; ++i) Enqueue("b", 10);
  size_t total = 0;
  EnvId after = 0, prev = 0;
  for (;;) {
    auto page = q_->ListByState(State::kIncoming, after, 40);
    ASSERT_TRUE(page.ok());
    if (page->empty()) break;
    for (const Envelope& e : *page) {
      EXPECT_GT(e.id, prev);
      prev = after = e.id;
      ++total;
    }
  }
  EXPECT_EQ(total, 250u);
  EXPECT_EQ(q_->GetCounters().incoming, 250u);
  EXPECT_EQ(q_->ListMessages(0, 100)->size(), 25u);
}

TEST_P(QueueTest, RecoveryRemovesOrphansKeepsBodiesInProgressAndFlagsMissingBodies) {
  if (Inline()) GTEST_SKIP() << "changes body files by hand: run with every body a file";
  MsgId whole = Enqueue("whole body");
  MsgId missing = Enqueue("soon gone");
  MsgId shortened = Enqueue("soon shorter");
  fs::remove(dir_ + "/data/" + FormatMsgId(missing).substr(6) + "/" + FormatMsgId(missing));
  fs::resize_file(dir_ + "/data/" + FormatMsgId(shortened).substr(6) + "/" + FormatMsgId(shortened), 3);
  std::ofstream(dir_ + "/data/00/abcdef00") << "orphan";
  auto in_progress = q_->Begin({});
  ASSERT_TRUE((*in_progress)->Append("being received").ok());

  RecoveryReport r = q_->Recover();
  EXPECT_EQ(r.orphan_bodies, 1);
  EXPECT_EQ(r.corrupted, 2);
  EXPECT_FALSE(fs::exists(dir_ + "/data/00/abcdef00"));
  EXPECT_EQ(q_->GetEnvelope(FirstEnvelope(missing))->state, State::kCorrupt);
  EXPECT_EQ(q_->GetEnvelope(FirstEnvelope(shortened))->state, State::kCorrupt);
  EXPECT_EQ(q_->GetEnvelope(FirstEnvelope(whole))->state, State::kIncoming);
  // The locked body of the message being received survived and still commits.
  ASSERT_TRUE((*in_progress)->AddRecipient({"x@example.net", "", 0}).ok());
  MsgId late = (*in_progress)->id();
  ASSERT_TRUE(q_->Commit(std::move(*in_progress)).ok());
  EXPECT_EQ(ReadBody(late), "being received");
  EXPECT_EQ(q_->Recover().corrupted, 0);  // already corrupt ones are not counted twice
  EXPECT_EQ(q_->CheckReaders(), 0);
  EXPECT_EQ(q_->ReaderCount(), 0);
}

// Writes one value straight into a sub-database, the queue closed: what an OS
// restart (another boot id) or a lost write leaves on disk.
void PutRaw(const std::string& dir, const char* db, std::string_view key, std::string_view value) {
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  mdb::Env owner(env);
  mdb_env_set_maxdbs(env, 8);
  ASSERT_EQ(mdb_env_open(env, (dir + "/queue.lmdb").c_str(), MDB_NOSUBDIR, 0600), 0);
  MDB_txn* t = nullptr;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &t), 0);
  mdb::Txn txn(t);
  MDB_dbi dbi;
  ASSERT_EQ(mdb_dbi_open(t, db, 0, &dbi), 0);
  MDB_val k = mdb::Val(key), v = mdb::Val(value);
  ASSERT_EQ(mdb_put(t, dbi, &k, &v, 0), 0);
  ASSERT_EQ(txn.Commit(), 0);
}

TEST_P(QueueTest, RecoveryChecksEveryBodyOnlyAfterASystemRestart) {
  if (CurrentBootId().empty()) GTEST_SKIP() << "no /proc/sys/kernel/random/boot_id";
  std::vector<MsgId> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(Enqueue("body " + std::to_string(i)));
  RecoveryReport first = q_->Recover();  // never checked before: everything
  EXPECT_TRUE(first.full_check);
  EXPECT_EQ(first.bodies_checked, 20);
  EXPECT_EQ(first.bodies_total, 20u);
  for (int i = 0; i < 5; ++i) ids.push_back(Enqueue("later " + std::to_string(i)));
  Reopen(Opts());
  // A restart in the same boot (a process crash, a reload) reads no body.
  RecoveryReport same_boot = q_->Recover();
  EXPECT_FALSE(same_boot.full_check);
  EXPECT_EQ(same_boot.bodies_checked, 0);
  EXPECT_EQ(same_boot.bodies_total, 25u);
  // A power loss: the storage lost the last body, and the system booted again.
  MsgId lost = ids.back();
  q_.reset();
  if (Inline()) {
    PutRaw(dir_, "body", MsgKey(lost), "lat");
  } else {
    fs::resize_file(dir_ + "/data/" + FormatMsgId(lost).substr(6) + "/" + FormatMsgId(lost), 3);
  }
  PutRaw(dir_, "count", kCheckedBootKey, "00000000-0000-0000-0000-000000000000");
  Reopen(Opts());
  RecoveryReport rebooted = q_->Recover();
  EXPECT_TRUE(rebooted.full_check);
  EXPECT_EQ(rebooted.bodies_checked, 25);
  EXPECT_EQ(rebooted.corrupted, 1);
  EXPECT_EQ(q_->GetEnvelope(FirstEnvelope(lost))->state, State::kCorrupt);
  EXPECT_EQ(q_->GetEnvelope(FirstEnvelope(ids.front()))->state, State::kIncoming);
  EXPECT_EQ(q_->Recover().bodies_checked, 0);  // checked in this boot now
  RecoveryReport asked = q_->Recover(Queue::BodyCheck::kAll);  // postsuper -s
  EXPECT_EQ(asked.bodies_checked, 25);
  EXPECT_EQ(asked.corrupted, 0);  // already corrupt
}

TEST_P(QueueTest, InflightEnvelopeOfDeadProcessBecomesDue) {
  MsgId id = Enqueue("body");
  EnvId e = FirstEnvelope(id);
  q_.reset();  // the child must open its own environment, never inherit one
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto q = Queue::Open(dir_, Options{});
    EnvelopeUpdate u;
    u.state = State::kActive;
    _exit(q.ok() && (*q)->Update(e, u).ok() ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  Reopen(Opts());
  ASSERT_EQ(q_->GetEnvelope(e)->state, State::kActive);
  EXPECT_EQ(q_->GetEnvelope(e)->owner_pid, static_cast<uint32_t>(pid));
  EXPECT_EQ(q_->Recover().inflight_reset, 1);
  Envelope got = *q_->GetEnvelope(e);
  EXPECT_EQ(got.state, State::kDeferred);
  EXPECT_EQ(got.owner_pid, 0u);
  ScheduleCursor cur;
  EXPECT_EQ(q_->ListScheduled(&cur, INT64_MAX, 10)->size(), 1u);
}

TEST_P(QueueTest, MapFullGrowsTheMap) {
  Options o = Opts();
  o.initial_map_size = 256u << 10;
  o.map_size_limit = 64u << 20;
  Reopen(o);
  uint64_t first = q_->MapSize();
  std::string rcpt_pad(1500, 'r');
  for (int i = 0; i < 30; ++i) {  // batches of 10: the map fills without 300 syncs
    std::vector<std::unique_ptr<MessageWriter>> ws;
    std::vector<MessageWriter*> raw;
    for (int k = 0; k < 10; ++k) {
      auto w = q_->Begin({});
      ASSERT_TRUE((*w)->Append("b").ok());
      for (int j = 0; j < 4; ++j) ASSERT_TRUE((*w)->AddRecipient({rcpt_pad + std::to_string(j), "", 0}).ok());
      raw.push_back(w->get());
      ws.push_back(std::move(*w));
    }
    for (const Status& s : q_->CommitBatch(raw)) ASSERT_TRUE(s.ok()) << s.message;
  }
  EXPECT_GT(q_->MapSize(), first);
  EXPECT_EQ(q_->GetCounters().messages, 300u);
}

TEST_P(QueueTest, MapAtItsLimitIsInsufficientStorageAndRecovers) {
  Options o = Opts();
  o.initial_map_size = 256u << 10;
  o.map_size_limit = 1u << 20;
  Reopen(o);
  std::string pad(1500, 'r');
  std::vector<MsgId> ids;
  Code last = Code::kOk;
  for (int i = 0; i < 2000 && last == Code::kOk; ++i) {
    auto w = q_->Begin({});
    ASSERT_TRUE((*w)->Append("body").ok());
    for (int j = 0; j < 4; ++j) ASSERT_TRUE((*w)->AddRecipient({pad + std::to_string(j), "", 0}).ok());
    auto id = q_->Commit(std::move(*w));
    last = id.code();
    if (id.ok()) ids.push_back(*id);
  }
  ASSERT_EQ(last, Code::kInsufficientStorage);
  ASSERT_GT(ids.size(), 10u);
  EXPECT_EQ(Bodies(), ids.size());  // the refused body is gone
  EXPECT_EQ(q_->GetCounters().messages, ids.size());
  for (MsgId id : ids) ASSERT_TRUE(q_->GetMessage(id).ok());
  for (size_t i = 0; i < ids.size() / 2; ++i) ASSERT_TRUE(q_->RemoveMessage(ids[i]).ok());
  EXPECT_NE(Enqueue("fits again", 4), 0u);
}

TEST_P(QueueTest, BelowMinFreeIsInsufficientStorage) {
  Options o = Opts();
  o.min_free = 1ULL << 62;
  Reopen(o);
  EXPECT_EQ(q_->Begin({}).code(), Code::kInsufficientStorage);
  EXPECT_EQ(Bodies(), 0u);
  Reopen(Opts());
  EXPECT_NE(Enqueue("ok"), 0u);
}

TEST_P(QueueTest, AsRootFilesBelongToTheMailOwner) {
  if (Inline()) GTEST_SKIP() << "changes body files by hand: run with every body a file";
  if (geteuid() != 0) GTEST_SKIP() << "only root can give files away";
  fs::remove_all(dir_);
  Options o = Opts();
  o.owner = Owner{65534, 65534};
  Reopen(o);
  MsgId id = Enqueue("owned");
  struct stat st;
  for (std::string p : {dir_, dir_ + "/data", dir_ + "/data/00", dir_ + "/queue.lmdb",
                        dir_ + "/data/" + FormatMsgId(id).substr(6) + "/" + FormatMsgId(id)}) {
    ASSERT_EQ(stat(p.c_str(), &st), 0) << p;
    EXPECT_EQ(st.st_uid, 65534u) << p;
  }
}

TEST(QueueOptions, FromConfig) {
  auto cfg = config::Config::Parse(
      "queue_minfree = 1m\nqueue_map_size = 64m\nmail_owner = root\nmaximal_queue_lifetime = 2d\n");
  ASSERT_TRUE(cfg.ok());
  auto o = OptionsFromConfig(*cfg);
  ASSERT_TRUE(o.ok()) << o.status().message;
  EXPECT_EQ(o->min_free, 1u << 20);
  EXPECT_EQ(o->map_size_limit, 64u << 20);
  auto l = Lifetimes::FromConfig(*cfg);
  ASSERT_TRUE(l.ok()) << l.error();
  EXPECT_EQ(l->message, 2 * 86400);
  EXPECT_EQ(l->bounce, 5 * 86400);
  EXPECT_EQ(o->owner.has_value(), geteuid() == 0);
  if (o->owner) {
    EXPECT_EQ(o->owner->uid, 0u);
  }
  auto bad = config::Config::Parse("queue_map_size = lots\n");
  EXPECT_FALSE(OptionsFromConfig(*bad).ok());
}

TEST_P(QueueTest, SetMessageFlagsAddsBitsAndKeepsTheRest) {
  MsgId id = Enqueue("Subject: x\r\n\r\nbody\r\n", 2);
  auto before = q_->GetMessage(id);
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(q_->SetMessageFlags(id, kFlagDelayWarned).ok());
  ASSERT_TRUE(q_->SetMessageFlags(id, kFlagDelayWarned).ok());  // idempotent
  auto after = q_->GetMessage(id);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->flags, before->flags | kFlagDelayWarned);
  after->flags = before->flags;
  EXPECT_EQ(*after, *before);
  EXPECT_EQ(q_->SetMessageFlags(id + 1, kFlagDelayWarned).code, Code::kNotFound);
  // Survives reopening: the flag is in the record, not in memory.
  Reopen(Opts());
  EXPECT_TRUE(q_->GetMessage(id)->flags & kFlagDelayWarned);
}

TEST_P(QueueTest, SmallBodyLivesInTheCommitAndLargeOneInAFile) {
  if (!Inline()) GTEST_SKIP() << "inline bodies only";
  SyncStats before = q_->Syncs();
  MsgId small = Enqueue("Subject: s\r\n\r\nsmall\r\n");
  SyncStats after = q_->Syncs();
  EXPECT_EQ(BodyFiles(), 0u);
  EXPECT_EQ(q_->InlineBodyCount(), 1u);
  EXPECT_EQ(ReadBody(small), "Subject: s\r\n\r\nsmall\r\n");
  EXPECT_EQ(after.commit_syncs, before.commit_syncs + 1);  // the only flush
  EXPECT_EQ(after.body_syncs + after.dir_syncs + after.fs_syncs, 0u);
  EXPECT_EQ(after.inline_bodies, 1u);

  std::string at_limit(kDefaultInlineBodyMax, 'a'), above(kDefaultInlineBodyMax + 1, 'b');
  MsgId edge = Enqueue(at_limit);
  EXPECT_EQ(q_->InlineBodyCount(), 2u);
  EXPECT_EQ(BodyFiles(), 0u);
  auto w = q_->Begin({});
  MsgId big = (*w)->id();
  for (size_t off = 0; off < above.size(); off += 1000) ASSERT_TRUE((*w)->Append(above.substr(off, 1000)).ok());
  ASSERT_TRUE((*w)->AddRecipient({"x@example.net", "", 0}).ok());
  ASSERT_TRUE(q_->Commit(std::move(*w)).ok());
  EXPECT_EQ(q_->InlineBodyCount(), 2u);
  EXPECT_EQ(BodyFiles(), 1u);
  EXPECT_EQ(ReadBody(edge), at_limit);
  EXPECT_EQ(ReadBody(big), above);
  EXPECT_EQ(q_->GetMessage(big)->size, above.size());

  // Recovery finds every body whole; removal takes inline bodies with the record.
  EXPECT_EQ(q_->Recover().corrupted, 0);
  ASSERT_TRUE(q_->RemoveMessage(small).ok());
  ASSERT_TRUE(q_->RemoveMessage(big).ok());
  EXPECT_EQ(q_->InlineBodyCount(), 1u);
  EXPECT_EQ(BodyFiles(), 0u);
  std::vector<EnvId> last = {FirstEnvelope(edge)};
  EXPECT_TRUE(q_->RemoveMany(last)[0].ok());
  EXPECT_EQ(Bodies(), 0u);
  EXPECT_EQ(q_->OpenBody(edge).code(), Code::kCorrupt);  // gone: no file either
  EXPECT_EQ(q_->GetCounters().bytes, 0u);
}

TEST_P(QueueTest, InlineBodyInProgressSurvivesRecoveryAndReopening) {
  MsgId whole = Enqueue("whole body");
  auto in_progress = q_->Begin({});
  ASSERT_TRUE((*in_progress)->Append("being received").ok());
  EXPECT_EQ(q_->Recover().corrupted, 0);
  ASSERT_TRUE((*in_progress)->AddRecipient({"x@example.net", "", 0}).ok());
  MsgId late = (*in_progress)->id();
  ASSERT_TRUE(q_->Commit(std::move(*in_progress)).ok());
  Reopen(Opts());
  EXPECT_EQ(q_->Recover().corrupted, 0);
  EXPECT_EQ(ReadBody(whole), "whole body");
  EXPECT_EQ(ReadBody(late), "being received");
  EXPECT_EQ(q_->GetEnvelope(FirstEnvelope(whole))->state, State::kIncoming);
  // A queue written with inline bodies reads the same with the limit at 0 (files only for new mail).
  Options files = Opts();
  files.inline_body_max = 0;
  Reopen(files);
  EXPECT_EQ(ReadBody(late), "being received");
}

INSTANTIATE_TEST_SUITE_P(Bodies, QueueTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "Inline" : "Files"; });

}  // namespace
}  // namespace postern::queue
