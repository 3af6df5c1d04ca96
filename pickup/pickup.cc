// pickup/pickup.cc — one maildrop file at a time: read its envelope, stream
// its content into a queue file behind a Received: header, commit (fsynced),
// and only then remove the file, so a crash in between at worst queues the
// message twice and never loses it.
#include "pickup/pickup.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <vector>

#include "ipc/trigger.h"
#include "log/log.h"
#include "maildrop/maildrop.h"
#include "smtp/received.h"

namespace postern::pickup {
namespace {

constexpr int64_t kStaleTemp = 24 * 3600;  // a tmp. file this old lost its sendmail

}  // namespace

Pickup::Pickup(const config::Config& cfg, std::unique_ptr<queue::Queue> q)
    : qdir_(cfg.Str("queue_directory")),
      dir_(qdir_ + "/maildrop"),
      myhostname_(cfg.Str("myhostname")),
      mail_name_(cfg.Str("mail_name")),
      queue_(std::move(q)) {}

Result<void> Pickup::Prepare() { return maildrop::EnsureDir(dir_, std::nullopt); }

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
  if (queued > 0) {
    if (auto r = ipc::Trigger(qdir_ + "/public/qmgr", std::string_view(&ipc::kQmgrScanIncoming, 1)); !r)
      log::Verbose("qmgr trigger: {}", r.error());
  }
  return queued;
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
  queue::MessageRecord rec;
  rec.sender = env.sender;
  rec.arrival = env.time;
  rec.dsn_ret = env.ret;
  rec.dsn_envid = env.envid;
  rec.flags = env.flags;
  auto w = queue_->Begin(std::move(rec));
  if (!w.ok()) {
    log::Warning("{}: queue: {}", path, w.status().message);
    return w.code() == queue::Code::kInsufficientStorage ? Outcome::kStop : Outcome::kLeft;
  }
  queue::MessageWriter& mw = **w;
  std::string id = queue::FormatMsgId(mw.id());
  queue::Status st = mw.Append(smtp::LocalReceived(myhostname_, mail_name_, env.uid, id, time(nullptr)));
  for (const std::string& rcpt : env.recipients)
    if (st.ok()) st = mw.AddRecipient({rcpt, "", env.notify});
  std::string piece;
  while (st.ok()) {
    auto more = r->Next(&piece);
    if (!more) {
      SetAside(name, more.error());
      return Outcome::kLeft;
    }
    if (!*more) break;
    st = mw.Append(piece);
  }
  if (!st.ok()) {
    log::Warning("{}: queue: {}", path, st.message);
    return st.code == queue::Code::kInsufficientStorage ? Outcome::kStop : Outcome::kLeft;
  }
  auto committed = queue_->Commit(std::move(*w));
  if (!committed.ok()) {
    log::Warning("{}: queue commit: {}", path, committed.status().message);
    return committed.code() == queue::Code::kInsufficientStorage ? Outcome::kStop : Outcome::kLeft;
  }
  log::Info("{}: uid={} from=<{}>", id, env.uid, env.sender);
  if (unlink(path.c_str()) != 0)
    log::Warning("remove {}: {}; the message ({}) may be queued twice", path, strerror(errno), id);
  return Outcome::kQueued;
}

}  // namespace postern::pickup
