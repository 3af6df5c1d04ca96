// ctl/postsuper.cc — postsuper(1): delete, requeue, hold and release
// messages by queue id, ALL (optionally of some queues) or ids on stdin;
// structure check (-s) and temporary-file purge (-p). While the system runs
// every change goes through qmgr on the control channel (remove, pause/resume
// envelope, schedule), so that nothing qmgr holds in core is delivered after
// it was removed or held; while it is down postsuper changes the queue file
// itself, as Postfix's postsuper works on the queue files. The queue is read
// (ids, queue names) a page at a time in either case.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ctl/control.h"
#include "ctl/frontends.h"
#include "ctl/lifecycle.h"
#include "ctl/postsuper.h"
#include "postern/log/log.h"
#include "postern/maildrop/maildrop.h"

namespace postern::ctl {

namespace {

using showq::QueueName;

constexpr size_t kBatch = 256;  // messages per change while the system is down

using Ids = std::vector<queue::MsgId>;

// One queue command to qmgr, its "N envelope(s)"; 0 with a warning when it
// failed, and the end of the run when every next request would fail too.
size_t RemoteCount(const config::Config& cfg, const std::vector<std::string>& words) {
  auto n = CallCount(cfg, words);
  if (n) return *n;
  const std::string& e = n.error();
  if (NotRunning(e) || e == "permission denied" || e.starts_with("the queue manager is not running"))
    log::Fatal("{}", e);
  log::Warning("{}: {}", words.back(), e);
  return 0;
}

// Changes messages; returns those it changed.
class Changer {
 public:
  virtual ~Changer() = default;
  virtual Ids Apply(SuperAction a, const Ids& ids) = 0;
};

// Through qmgr, a request per message: its in-core state follows the queue.
class Remote : public Changer {
 public:
  explicit Remote(const config::Config& cfg) : cfg_(cfg) {}
  Ids Apply(SuperAction a, const Ids& ids) override {
    Ids changed;
    for (queue::MsgId id : ids)
      if (One(a, queue::FormatMsgId(id))) changed.push_back(id);
    return changed;
  }

 private:
  bool One(SuperAction a, const std::string& msg) {
    switch (a) {
      case SuperAction::kDelete: return Count({"remove", msg}) > 0;
      case SuperAction::kHold: return Count({"pause", "envelope", msg}) > 0;
      case SuperAction::kRelease: return Count({"resume", "envelope", msg}) > 0;
      case SuperAction::kRequeue: {
        size_t released = Count({"resume", "envelope", msg});
        return released + Count({"schedule", msg}) > 0;
      }
    }
    return false;
  }
  size_t Count(const std::vector<std::string>& words) { return RemoteCount(cfg_, words); }
  const config::Config& cfg_;
};

// The system is down: the queue file itself, the messages of a call in one
// transaction. Envelopes left active by processes that died are made due
// first, as master's start would.
class Local : public Changer {
 public:
  explicit Local(queue::Queue& q) : q_(q) { q_.ResetDeadInflight(); }
  Ids Apply(SuperAction a, const Ids& ids) override {
    std::vector<queue::EnvId> removals;
    std::vector<std::pair<queue::EnvId, queue::EnvelopeUpdate>> updates;
    int64_t now = std::time(nullptr);
    for (queue::MsgId id : ids) {
      auto envs = q_.Envelopes(id);
      if (!envs.ok()) continue;
      for (const auto& e : *envs) {
        if (a == SuperAction::kDelete) removals.push_back(e.id);
        else if (auto u = Change(a, e, now)) updates.emplace_back(e.id, std::move(*u));
      }
    }
    std::vector<queue::Status> st = a == SuperAction::kDelete ? q_.RemoveMany(removals) : q_.UpdateMany(updates);
    Ids changed;
    for (size_t i = 0; i < st.size(); ++i) {
      queue::MsgId msg = queue::MsgOf(a == SuperAction::kDelete ? removals[i] : updates[i].first);
      if (st[i].ok() && (changed.empty() || changed.back() != msg)) changed.push_back(msg);
      else if (!st[i].ok() && st[i].code != queue::Code::kNotFound)
        log::Warning("{}: {}", queue::FormatMsgId(msg), st[i].message);
    }
    return changed;
  }

 private:
  // What the action makes of one envelope: hold takes waiting ones (as
  // Queue::Hold), release held ones (as Queue::Release), requeue both and
  // makes them due now; qmgr routes each afresh when it takes it.
  static std::optional<queue::EnvelopeUpdate> Change(SuperAction a, const queue::Envelope& e, int64_t now) {
    queue::EnvelopeUpdate u;
    bool held = e.state == queue::State::kHold;
    if (a == SuperAction::kHold && queue::Scheduled(e.state)) {
      u.state = queue::State::kHold;
    } else if ((a == SuperAction::kRelease || a == SuperAction::kRequeue) && held) {
      u.state = queue::State::kDeferred;
      u.next_attempt = now;
    } else if (a == SuperAction::kRequeue && queue::Scheduled(e.state)) {
      u.next_attempt = now;
    } else {
      return std::nullopt;
    }
    return u;
  }
  queue::Queue& q_;
};

bool Contains(const std::vector<QueueName>& qs, QueueName q) { return std::find(qs.begin(), qs.end(), q) != qs.end(); }

class Super {
 public:
  Super(const SuperArgs& args, const config::Config& cfg) : args_(args), cfg_(cfg) {}

  int Run() {
    auto q = showq::OpenExisting(cfg_);
    if (!q) log::Fatal("{}", q.error());
    q_ = std::move(*q);
    online_ = MasterPid(cfg_).has_value();
    if (q_) {
      if (online_) changer_ = std::make_unique<Remote>(cfg_);
      else changer_ = std::make_unique<Local>(*q_);
    }
    if (args_.structure) Structure();
    if (args_.purge) Purge();
    // Postfix's order: every ALL action, then the named ids action by action.
    for (SuperAction a : {SuperAction::kDelete, SuperAction::kRequeue, SuperAction::kHold, SuperAction::kRelease})
      if (args_.All(a)) counts_[size_t(a)] += All(a);
    for (SuperAction a : {SuperAction::kDelete, SuperAction::kRequeue, SuperAction::kHold, SuperAction::kRelease}) {
      if (args_.All(a)) continue;
      for (const auto& name : args_.Names(a)) counts_[size_t(a)] += name == "-" ? FromStdin(a) : One(a, name);
    }
    for (SuperAction a : kSuperActions)
      if (counts_[size_t(a)] > 0) log::Info("{}", SuperReport(a, counts_[size_t(a)]));
    return 0;
  }

 private:
  size_t One(SuperAction a, const std::string& name) {
    auto id = queue::ParseMsgId(name);
    if (!id) {
      log::Warning("invalid mail queue id: {}", name);
      return 0;
    }
    if (!q_) return 0;
    auto envs = q_->Envelopes(*id);
    if (!envs.ok()) return 0;
    auto where = showq::QueueOf(*envs);
    if (!where || !Contains(SuperQueues(args_, a), *where) || changer_->Apply(a, {*id}).empty()) return 0;
    log::Info("{}: {}", queue::FormatMsgId(*id), SuperDone(a));
    return 1;
  }

  size_t FromStdin(SuperAction a) {
    size_t n = 0;
    std::string line;
    while (std::getline(std::cin, line)) {
      line.erase(0, line.find_first_not_of(" \t\r"));
      line.erase(line.find_last_not_of(" \t\r") + 1);
      if (!line.empty()) n += One(a, line);
    }
    return n;
  }

  size_t All(SuperAction a) {
    auto queues = SuperQueues(args_, a);
    size_t n = a == SuperAction::kDelete && Contains(queues, QueueName::kMaildrop) ? DeleteMaildrop() : 0;
    if (!q_) return n;
    if (online_ && Bulk(a, queues)) return n + BulkAll(a, queues);
    Ids batch;
    auto flush = [&] {
      n += changer_->Apply(a, batch).size();
      batch.clear();
    };
    auto st = showq::ForEachMessage(*q_, [&](const queue::MessageRecord& m, const std::vector<queue::Envelope>& envs) {
      auto where = showq::QueueOf(envs);
      if (where && Contains(queues, *where)) batch.push_back(m.id);
      if (batch.size() >= kBatch) flush();
      return true;
    });
    flush();
    if (!st.ok()) log::Fatal("cannot read the queue: {}", st.message);
    return n;
  }

  // qmgr's paged bulk command (`remove all`, ...: one queue transaction per
  // page instead of one per envelope) does exactly the action when the
  // queues include all those it reaches: delete and requeue every queue
  // (delete: corrupt too, unless there is none), hold all but hold, release
  // hold. Then the messages are counted from the queue before and after.
  bool Bulk(SuperAction a, const std::vector<QueueName>& queues) const {
    std::vector<QueueName> reach = {QueueName::kIncoming, QueueName::kActive, QueueName::kDeferred};
    if (a == SuperAction::kRelease) reach = {QueueName::kHold};
    else if (a != SuperAction::kHold) reach.push_back(QueueName::kHold);
    if (a == SuperAction::kDelete && (Contains(queues, QueueName::kCorrupt) || q_->GetCounters().corrupt > 0))
      reach.push_back(QueueName::kCorrupt);
    return std::all_of(reach.begin(), reach.end(), [&](QueueName q) { return Contains(queues, q); });
  }

  size_t BulkAll(SuperAction a, const std::vector<QueueName>& queues) {
    std::vector<queue::MsgId> before;
    auto st = showq::ForEachMessage(*q_, [&](const queue::MessageRecord& m, const std::vector<queue::Envelope>& envs) {
      if (auto where = showq::QueueOf(envs); where && Contains(queues, *where)) before.push_back(m.id);
      return true;
    });
    if (!st.ok()) log::Fatal("cannot read the queue: {}", st.message);
    if (before.empty()) return 0;
    auto call = [this](const std::vector<std::string>& words) { RemoteCount(cfg_, words); };
    switch (a) {
      case SuperAction::kDelete: call({"remove", "all"}); break;
      case SuperAction::kHold: call({"pause", "envelope", "all"}); break;
      case SuperAction::kRelease: call({"resume", "envelope", "all"}); break;
      case SuperAction::kRequeue: call({"resume", "envelope", "all"}), call({"schedule", "all"}); break;
    }
    size_t n = 0;
    for (queue::MsgId id : before) {
      auto envs = q_->Envelopes(id);
      bool gone = !envs.ok() || envs->empty();
      bool held = !gone && showq::QueueOf(*envs) == QueueName::kHold;
      n += a == SuperAction::kDelete ? gone : a == SuperAction::kHold ? held : !gone && !held;
    }
    return n;
  }

  // Whole maildrop files: mail that sendmail left while the system was down.
  size_t DeleteMaildrop() {
    size_t n = 0;
    ForEachMaildropFile(cfg_, [&n](const std::string& name, const std::string& path, const struct stat&) {
      if (!name.starts_with(maildrop::kTempPrefix) && unlink(path.c_str()) == 0) ++n;
    });
    return n;
  }

  // -p: maildrop files that a crashed sendmail left half-written, after a day.
  void Purge() {
    time_t old = std::time(nullptr) - 24 * 3600;
    ForEachMaildropFile(cfg_, [old](const std::string& name, const std::string& path, const struct stat& st) {
      if (name.starts_with(maildrop::kTempPrefix) && st.st_mtime < old && unlink(path.c_str()) == 0)
        log::Verbose("removed file {}", path);
    });
  }

  // -s: LMDB keeps the queue consistent by itself (no file names to match to
  // inodes, no hash directories); what can still go wrong is a body file
  // without its message, a message without its body, and envelopes of dead
  // processes. The full check needs the system down (a body being written
  // has no message yet); while it runs, only dead readers are cleared.
  void Structure() {
    if (!q_) return;
    if (online_) {
      int readers = q_->CheckReaders();
      if (readers > 0) log::Info("Cleared stale queue readers: {}", readers);
      log::Verbose("the mail system is running: the full structure check runs at its next start");
    } else {
      queue::RecoveryReport r = q_->Recover(queue::Queue::BodyCheck::kAll);
      if (r.orphan_bodies > 0) log::Info("Removed message bodies without a message: {}", r.orphan_bodies);
      if (r.corrupted > 0) log::Info("Moved to corrupt (body missing or unreadable): {} messages", r.corrupted);
      if (r.inflight_reset > 0) log::Info("Made due again (left active by dead processes): {} envelopes", r.inflight_reset);
    }
    if (uint64_t bad = q_->GetCounters().corrupt; bad > 0)
      log::Warning("{} corrupt envelope(s) in the queue: see postern show queue, postern uncorrupt ID", bad);
  }

  const SuperArgs& args_;
  const config::Config& cfg_;
  std::unique_ptr<queue::Queue> q_;
  std::unique_ptr<Changer> changer_;
  bool online_ = false;
  size_t counts_[4] = {};
};

}  // namespace

int PostsuperMain(int argc, char** argv) {
  log::InitCommand("postsuper");
  auto args = ParseSuperArgs(std::vector<std::string>(argv + 1, argv + argc));
  if (!args) log::Fatal("{}", args.error());
  for (int i = 0; i < args->verbose; ++i) log::SetLevel(log::Level::kVerbose);
  auto loaded = LoadFrontendConfig(args->config_dir);
  if (!loaded) log::Fatal("{}", loaded.error());
  for (const auto& w : args->warnings) log::Warning("{}", w);
  return Super(*args, loaded->cfg).Run();
}

}  // namespace postern::ctl
