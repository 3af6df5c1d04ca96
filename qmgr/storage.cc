// qmgr/storage.cc — queue changes that fail as a whole (a full file system, an
// i/o error): one warning per interval, scanning paused with a backoff that
// doubles up to kMaxBackoffMs, and the failed updates and removals retried
// when it ends, never a tight loop of retries.
#include <algorithm>
#include <ctime>
#include <utility>

#include "postern/log/log.h"
#include "qmgr/manager.h"

namespace postern::qmgr {

namespace {

constexpr uint64_t kFirstBackoffMs = 1000, kMaxBackoffMs = 32000;

}  // namespace

bool Manager::CommitFailed(const queue::Status& s) {
  return s.code == queue::Code::kInsufficientStorage || s.code == queue::Code::kIo;
}

void Manager::QueueFailure(const std::string& what, const queue::Status& s) {
  if (!CommitFailed(s)) return log::Warning("{}: {}", what, s.message);
  StartBackoff();
  queue_warning_.Warn("{}: {}; queue changes retried in {}s", what, s.message, backoff_ms_ / 1000);
}

void Manager::Update(queue::EnvId id, const queue::EnvelopeUpdate& u) {
  Store::Change c{id, u};
  if (auto st = store_.UpdateMany({&c, 1})[0]; !st.ok()) RetryUpdate(id, u, st);
}

void Manager::RetryUpdate(queue::EnvId id, const queue::EnvelopeUpdate& u, const queue::Status& s) {
  if (CommitFailed(s)) retry_updates_.emplace_back(id, u);
  QueueFailure(queue::FormatMsgId(queue::MsgOf(id)) + ": cannot update envelope " + queue::FormatEnvId(id), s);
}

void Manager::RetryRemoval(queue::EnvId id, const queue::Status& s) {
  if (CommitFailed(s)) retry_removals_.push_back(id);
  QueueFailure(queue::FormatMsgId(queue::MsgOf(id)) + ": cannot remove envelope " + queue::FormatEnvId(id), s);
}

void Manager::QueueWorks() {
  if (backoff_ms_ == 0 || backing_off_) return;
  log::Info("queue changes work again");
  backoff_ms_ = 0;
  queue_warning_.Clear();
}

void Manager::StartBackoff() {
  if (backing_off_) return;
  backing_off_ = true;
  backoff_ms_ = backoff_ms_ ? std::min(backoff_ms_ * 2, kMaxBackoffMs) : kFirstBackoffMs;
  page_timer_.Stop();
  due_timer_.Stop();
  scanning_ = rescan_ = false;
  seen_.clear();
  backoff_timer_.Start(backoff_ms_, 0, [this] { EndBackoff(); });
}

// Retries what failed (one commit for the updates, one for the removals),
// then scans; the first commit that works ends the backoff for good.
void Manager::EndBackoff() {
  backing_off_ = false;
  store_.KeepReserve();
  std::vector<Store::Change> updates;
  std::vector<queue::EnvId> removals;
  updates.swap(retry_updates_);
  removals.swap(retry_removals_);
  if (!updates.empty()) {
    std::vector<queue::Status> st = store_.UpdateMany(updates);
    for (size_t i = 0; i < updates.size(); ++i)
      if (!st[i].ok() && st[i].code != queue::Code::kNotFound) RetryUpdate(updates[i].first, updates[i].second, st[i]);
  }
  if (!removals.empty()) {
    std::vector<queue::MsgId> gone;
    std::vector<queue::Status> st = store_.RemoveMany(removals, &gone);
    for (size_t i = 0; i < removals.size(); ++i)
      if (!st[i].ok() && st[i].code != queue::Code::kNotFound) RetryRemoval(removals[i], st[i]);
    NoteGone(gone);
  }
  if (backing_off_) return;
  if (!updates.empty() || !removals.empty()) QueueWorks();
  int64_t until = std::max<int64_t>(std::exchange(backoff_scan_until_, 0), std::time(nullptr));
  Scan(until);
}

}  // namespace postern::qmgr
