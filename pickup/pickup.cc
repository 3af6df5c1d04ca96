// pickup/pickup.cc — one maildrop file at a time: read its envelope, stream
// it through cleanup (lib/cleanup: rewriting, content filter) behind a
// Received: header, non_smtpd_milters, commit (fsynced), and only then
// remove the file, so a crash in between at worst queues the message twice
// and never loses it.
#include "pickup/pickup.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <vector>

#include "pickup/milter.h"
#include "postern/ipc/bounce.h"
#include "postern/log/log.h"
#include "postern/maildrop/maildrop.h"
#include "postern/smtp/received.h"
#include "postern/smtp/reply.h"

namespace postern::pickup {
namespace {

constexpr int64_t kStaleTemp = 24 * 3600;  // a tmp. file this old lost its sendmail

}  // namespace

Pickup::Pickup(const config::Config& cfg, std::unique_ptr<queue::Queue> q)
    : qdir_(cfg.Str("queue_directory")),
      dir_(qdir_ + "/maildrop"),
      myhostname_(cfg.Str("myhostname")),
      mail_name_(cfg.Str("mail_name")),
      milters_(milter::Settings::Load(cfg)),
      queue_(std::move(q)),
      cleanup_(cleanup::Cleanup::FromConfig(cfg, queue_.get(), true)) {
  if (milters_) milter_settings_ = std::make_shared<const milter::Settings>(*milters_);
}

Result<void> Pickup::Prepare() {
  if (!cleanup_) return Err(cleanup_.error());
  if (!milters_) return Err(milters_.error());
  return maildrop::EnsureDir(dir_, std::nullopt);
}

int Pickup::Scan() {
  std::vector<std::string> names;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec))
    names.push_back(it->path().filename());
  if (ec) {
    log::Warning("scan {}: {}", dir_, ec.message());
    return 0;
  }
  int queued = 0;
  time_t now = time(nullptr);
  for (const std::string& name : names) {
    if (name.starts_with(maildrop::kCorruptPrefix) || name.starts_with(".")) continue;
    if (name.starts_with(maildrop::kTempPrefix)) {
      struct stat st;
      std::string path = dir_ + "/" + name;
      if (lstat(path.c_str(), &st) == 0 && now - st.st_mtime > kStaleTemp && unlink(path.c_str()) == 0)
        log::Warning("removed stale temporary file {}", path);
      continue;
    }
    Outcome o = Take(name);
    if (o == Outcome::kQueued) ++queued;
    if (o == Outcome::kStop) break;
  }
  return queued;  // cleanup woke qmgr for each
}

void Pickup::SetAside(const std::string& name, const std::string& why) {
  std::string to = dir_ + "/" + std::string(maildrop::kCorruptPrefix) + name;
  log::Warning("{}/{}: {}; moved to {}", dir_, name, why, to);
  if (rename((dir_ + "/" + name).c_str(), to.c_str()) != 0) log::Warning("rename to {}: {}", to, strerror(errno));
}

Pickup::Outcome Pickup::Take(const std::string& name) {
  std::string path = dir_ + "/" + name;
  auto r = maildrop::Reader::Open(path);
  if (!r) {
    if (access(path.c_str(), F_OK) != 0) return Outcome::kLeft;  // gone meanwhile
    SetAside(name, r.error());
    return Outcome::kLeft;
  }
  const maildrop::Envelope& env = r->envelope();
  cleanup::Submission sub;
  sub.record.sender = env.sender;
  sub.record.arrival = env.time;
  sub.record.dsn_ret = env.ret;
  sub.record.dsn_envid = env.envid;
  sub.record.flags = env.flags;
  sub.local = true;  // a local submission: missing headers are added
  sub.checks = true;  // mail from outside: header/body checks
  auto m = (*cleanup_)->Begin(std::move(sub));
  if (!m.ok()) {
    log::Warning("{}: queue: {}", path, m.status().message);
    return m.code() == queue::Code::kInsufficientStorage ? Outcome::kStop : Outcome::kLeft;
  }
  cleanup::Message& msg = **m;
  std::string id = queue::FormatMsgId(msg.id());
  bool milters = !milter_settings_->non_smtpd.empty();
  if (milters) msg.KeepContent();  // they see the whole message at its end
  msg.SetCheckContext({id, "local", env.sender, env.recipients.empty() ? "" : env.recipients[0], "", ""});
  queue::Status st = msg.Append(smtp::LocalReceived(myhostname_, mail_name_, env.uid, id, time(nullptr)));
  std::string piece;
  while (st.ok()) {
    auto more = r->Next(&piece);
    if (!more) {
      SetAside(name, more.error());
      return Outcome::kLeft;
    }
    if (!*more) break;
    st = msg.Append(piece);
  }
  if (st.ok()) st = msg.Finish();
  if (!st.ok()) return QueueTrouble(path, st);
  // REJECT and DISCARD are pickup's to act on; cleanup applies the rest at commit.
  const cleanup::Verdict& v = msg.verdict();
  if (v.reject || msg.too_many_hops()) {  // returned to its sender as it came
    if (milters) st = msg.WriteContent(msg.TakeContent());
    for (const std::string& rcpt : env.recipients)
      if (st.ok()) st = msg.AddRecipient({rcpt, "", env.notify});
    if (!st.ok()) return QueueTrouble(path, st);
    if (v.reject) return Refuse(name, std::move(*m), env.time, v);
    return Bounce(name, std::move(*m), env.time, cleanup::kHopsStatus, cleanup::kHopsText);
  }
  if (v.discard) {  // cleanup logged the discard: nothing is queued
    if (unlink(path.c_str()) != 0) log::Warning("remove {}: {}", path, strerror(errno));
    return Outcome::kLeft;
  }
  // Milters see the message after header/body checks (Postfix's cleanup runs them last).
  if (milters) return Filter(name, std::move(*m), env);
  return Enqueue(name, std::move(*m), env, env.recipients);
}

Pickup::Outcome Pickup::QueueTrouble(const std::string& what, const queue::Status& st) {
  log::Warning("{}: queue: {}", what, st.message);
  return st.code == queue::Code::kInsufficientStorage ? Outcome::kStop : Outcome::kLeft;
}

// Postfix's cleanup with non_smtpd_milters: a 4xx leaves the file for the
// next scan, a 5xx returns the message to its sender, DISCARD drops it; an
// accepted message takes their edits (content, sender, recipients, HOLD).
Pickup::Outcome Pickup::Filter(const std::string& name, std::unique_ptr<cleanup::Message> m,
                               const maildrop::Envelope& env) {
  std::string id = queue::FormatMsgId(m->id());
  std::string content = m->TakeContent();
  milter::Message mm = milter::Message::Parse(content);
  milter::EnvelopeEdits edits;
  milter::Outcome o = RunMilters(milter_settings_, {id, env.sender, myhostname_, env.recipients}, &mm, &edits);
  auto say = [&](std::string_view action, std::string_view text) {
    log::Info("{}: {}: END-OF-MESSAGE from localhost[127.0.0.1]: {}; from=<{}>", id, action, text, env.sender);
  };
  using K = milter::Outcome::Kind;
  if (o.kind == K::kShutdown) o = {K::kReply, "421 4.7.0 Server closing connection", "", {}};
  if (o.kind == K::kReply) {
    std::string line = o.reply.substr(0, o.reply.find("\r\n"));
    say("milter-reject", line);
    if (line[0] == '4') return Outcome::kLeft;  // the message goes, its body with it; the file waits
    std::string rest = line.size() > 4 ? line.substr(4) : "";
    size_t sp = rest.find(' ');
    bool enh = smtp::IsEnhancedStatus(rest.substr(0, sp));
    std::string status = enh ? rest.substr(0, sp) : "5.7.1";
    std::string text = !enh ? rest : sp == std::string::npos ? "" : rest.substr(sp + 1);
    queue::Status st = m->WriteContent(content);
    for (const std::string& r : env.recipients)
      if (st.ok()) st = m->AddRecipient({r, "", env.notify});
    if (!st.ok()) return QueueTrouble(dir_ + "/" + name, st);
    return Bounce(name, std::move(m), env.time, status, text);
  }
  std::vector<std::string> rcpts;
  for (const std::string& r : env.recipients)
    if (std::find(edits.del_rcpts.begin(), edits.del_rcpts.end(), r) == edits.del_rcpts.end()) rcpts.push_back(r);
  for (const std::string& r : edits.add_rcpts) rcpts.push_back(r);
  if (o.kind == K::kDiscard || rcpts.empty()) {
    say("milter-discard", o.kind == K::kDiscard ? "milter triggers DISCARD action" : "no recipients left");
    if (unlink((dir_ + "/" + name).c_str()) != 0) log::Warning("remove {}/{}: {}", dir_, name, strerror(errno));
    return Outcome::kLeft;
  }
  if (!o.quarantine.empty()) {
    say("milter-hold", "milter triggers HOLD action");
    m->Hold();
  }
  queue::Status st = edits.sender ? m->ChangeSender(*edits.sender) : queue::Status{};
  if (st.ok()) st = m->WriteContent(mm.Serialize());
  if (!st.ok()) return QueueTrouble(dir_ + "/" + name, st);
  return Enqueue(name, std::move(m), env, rcpts);
}

// The one place where pickup settles the envelope: cleanup rewrites each
// recipient and applies the checks' REDIRECT/BCC, HOLD and FILTER at commit.
Pickup::Outcome Pickup::Enqueue(const std::string& name, std::unique_ptr<cleanup::Message> m,
                                const maildrop::Envelope& env, const std::vector<std::string>& rcpts) {
  std::string path = dir_ + "/" + name;
  std::string id = queue::FormatMsgId(m->id());
  queue::Status st;
  for (const std::string& rcpt : rcpts)
    if (st.ok()) st = m->AddRecipient({rcpt, "", env.notify});
  if (!st.ok()) return QueueTrouble(path, st);
  auto committed = (*cleanup_)->Commit(std::move(m));
  if (!committed.ok()) {
    log::Warning("{}: queue commit: {}", path, committed.status().message);
    return committed.code() == queue::Code::kInsufficientStorage ? Outcome::kStop : Outcome::kLeft;
  }
  log::Info("{}: uid={} from=<{}>", id, env.uid, env.sender);
  if (unlink(path.c_str()) != 0)
    log::Warning("remove {}: {}; the message ({}) may be queued twice", path, strerror(errno), id);
  return Outcome::kQueued;
}

// A REJECT of header/body checks: a 5.x.x reason bounces to the sender, a
// 4.x.x one leaves the file for a later scan.
Pickup::Outcome Pickup::Refuse(const std::string& name, std::unique_ptr<cleanup::Message> m, int64_t arrival,
                               const cleanup::Verdict& v) {
  size_t sp = v.reason.find(' ');
  std::string dsn = v.reason.substr(0, sp);
  std::string text = sp == std::string::npos ? "" : v.reason.substr(sp + 1);
  if (v.code / 100 == 5) return Bounce(name, std::move(m), arrival, dsn, text);
  log::Warning("{}/{}: message deferred: {}", dir_, name, v.reason);
  return Outcome::kLeft;
}

// Postfix's cleanup_bounce: the refused message is committed on hold (out of
// qmgr's sight), the bounce service queues the notice to its sender, then the
// message is removed, and the maildrop file last: a failure on the way
// leaves the file for the next scan.
Pickup::Outcome Pickup::Bounce(const std::string& name, std::unique_ptr<cleanup::Message> m, int64_t arrival,
                               const std::string& dsn, const std::string& text) {
  std::string path = dir_ + "/" + name;
  m->Hold();
  auto id = (*cleanup_)->Commit(std::move(m));
  if (!id.ok()) {
    log::Warning("{}: queue commit: {}", path, id.status().message);
    return id.code() == queue::Code::kInsufficientStorage ? Outcome::kStop : Outcome::kLeft;
  }
  std::string qid = queue::FormatMsgId(*id);
  auto envs = queue_->Envelopes(*id);
  ipc::BounceRequest req;
  req.message_id = *id;
  if (envs.ok()) {
    for (const queue::Envelope& e : *envs)
      req.recipients.push_back({e.recipient, e.orig_recipient, e.notify, "failed", dsn, text, "none"});
  }
  auto answer = envs.ok() ? ipc::CallBounce(qdir_ + "/private/bounce", req, 60000)
                          : Result<ipc::BounceAnswer>(Err(envs.status().message));
  if (!answer || !answer->ok) {
    log::Warning("{}: cannot return {} to its sender: {}; left for the next scan", qid, path,
                 answer ? answer->text : answer.error());
    (void)queue_->RemoveMessage(*id);
    return Outcome::kLeft;
  }
  double delay = double(time(nullptr) - arrival);  // no queue manager: all of it before qmgr
  for (const ipc::BounceRecipient& r : req.recipients)
    log::Info("{}: to=<{}>, relay=none, {}, dsn={}, status=bounced ({})", qid, r.address,
              log::FormatDelays(delay, delay, 0, 0, 0), r.status, r.diagnostic);
  if (auto rm = queue_->RemoveMessage(*id); !rm.ok()) log::Warning("{}: remove: {}", qid, rm.message);
  else log::Info("{}: removed", qid);
  if (unlink(path.c_str()) != 0)
    log::Warning("remove {}: {}; its sender may be told twice", path, strerror(errno));
  return Outcome::kQueued;  // the notice is new mail for qmgr
}

}  // namespace postern::pickup
