// showq/showq.cc — Postfix queue names of postern's messages, the paged walk
// over the queue, and postqueue -j's JSON lines (Postfix's showq_json fields).
#include "postern/showq/showq.h"

#include <unistd.h>

#include <cerrno>
#include <ctime>

#include <fmt/format.h>

#include "postern/ipc/control_queue.h"
#include "postern/log/log.h"
#include "postern/util/strings.h"

namespace postern::showq {

namespace {

constexpr size_t kPage = 256;

constexpr std::pair<QueueName, std::string_view> kNames[] = {
    {QueueName::kMaildrop, "maildrop"}, {QueueName::kIncoming, "incoming"}, {QueueName::kActive, "active"},
    {QueueName::kDeferred, "deferred"}, {QueueName::kHold, "hold"},         {QueueName::kCorrupt, "corrupt"},
};

}  // namespace

std::string_view Name(QueueName q) {
  for (const auto& [v, n] : kNames)
    if (v == q) return n;
  return "?";
}

std::optional<QueueName> ParseQueueName(std::string_view s) {
  for (const auto& [v, n] : kNames)
    if (n == s) return v;
  return std::nullopt;
}

std::optional<QueueName> QueueOf(const std::vector<queue::Envelope>& envs) {
  if (envs.empty()) return std::nullopt;
  bool active = false, hold = false, deferred = false, incoming = false;
  for (const auto& e : envs) {
    active |= e.state == queue::State::kActive;
    hold |= e.state == queue::State::kHold;
    deferred |= e.state == queue::State::kDeferred;
    incoming |= e.state == queue::State::kIncoming;
  }
  if (active) return QueueName::kActive;
  if (hold) return QueueName::kHold;
  if (deferred) return QueueName::kDeferred;
  if (incoming) return QueueName::kIncoming;
  return QueueName::kCorrupt;
}

queue::Status ForEachMessage(queue::Queue& q, const MessageFn& each) {
  queue::MsgId after = 0;
  for (;;) {
    auto page = q.ListWithEnvelopes(after, kPage);  // one read transaction a page
    if (!page.ok()) return page.status();
    for (const auto& [m, envs] : *page) {
      after = m.id;
      if (envs.empty()) continue;
      if (!each(m, envs)) return queue::Status::Ok();
    }
    if (page->size() < kPage) return queue::Status::Ok();
  }
}

Result<std::unique_ptr<queue::Queue>> OpenExisting(const config::Config& cfg) {
  std::string qdir = cfg.Str("queue_directory");
  if (access((qdir + "/queue.lmdb").c_str(), F_OK) != 0 && errno == ENOENT) return std::unique_ptr<queue::Queue>();
  auto opts = queue::OptionsFromConfig(cfg);
  if (!opts.ok()) return Err(opts.status().message);
  auto q = queue::Queue::Open(qdir, *opts);
  if (!q.ok()) return Err("cannot open the queue in " + qdir + ": " + q.status().message);
  return std::move(*q);
}

std::string AscTime(int64_t when) {
  time_t t = static_cast<time_t>(when);
  tm lt{};
  localtime_r(&t, &lt);
  char buf[64];
  strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y\n", &lt);
  return buf;
}

// The null sender is MAILER-DAEMON, as in mailq's listing (Postfix's showq
// writes empty_address_recipient for it in both).
std::string FormatJson(const queue::MessageRecord& m, const std::vector<queue::Envelope>& envs, QueueName q) {
  std::string out = fmt::format(
      "{{\"queue_name\": {}, \"queue_id\": {}, \"arrival_time\": {}, \"message_size\": {}, "
      "\"forced_expire\": false, \"sender\": {}, \"recipients\": [",
      JsonString(Name(q)), JsonString(queue::FormatMsgId(m.id)), m.arrival, m.size,
      JsonString(m.sender.empty() ? "MAILER-DAEMON" : m.sender));
  bool first = true;
  for (const auto& e : envs) {
    if (e.state == queue::State::kCorrupt) continue;
    out += first ? "{" : ", {";
    first = false;
    out += "\"address\": " + JsonString(e.recipient);
    if (!e.last_error.empty()) out += ", \"delay_reason\": " + JsonString(e.last_error);
    out += "}";
  }
  return out + "]}";
}

bool ListJson(queue::Queue& q, FILE* out) {
  auto st = ForEachMessage(q, [out](const queue::MessageRecord& m, const std::vector<queue::Envelope>& envs) {
    auto name = QueueOf(envs);
    if (!name || *name == QueueName::kCorrupt) return true;
    std::string line = FormatJson(m, envs, *name) + "\n";
    return fwrite(line.data(), 1, line.size(), out) == line.size();
  });
  if (!st.ok()) {
    log::Error("cannot read the queue: {}", st.message);
    return false;
  }
  return fflush(out) == 0;
}

}  // namespace postern::showq
