// showq/mailq.cc — Postfix's mailq format (showq_compat): a heading, per
// message "ID[*!] size arrival sender", "(reason)" right-aligned to column 78
// whenever it changes, recipients at column 42, a blank line between
// messages and a "-- N Kbytes in M Requests." footer. Messages come in queue
// id order, one page at a time; "*" marks the active queue, "!" hold
// (QueueOf, showq.h). Recipients
// are sorted by their last delivery error, then address (envelope ids are
// random, so queue order would say nothing), so each reason prints once.
#include <algorithm>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "postern/log/log.h"
#include "postern/showq/showq.h"

namespace postern::showq {
namespace {

constexpr int kExTempFail = 75;  // sysexits EX_TEMPFAIL

// asctime's first 20 characters: "Mon Nov 23 09:12:01 ".
std::string Arrival(int64_t when) { return AscTime(when).substr(0, 20); }

// Control characters would let a queued address draw on the terminal.
std::string Printable(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 32 || c == 127) c = '?';
  return out;
}

// One message; returns false when it has no envelope left to show.
bool ShowMessage(const queue::MessageRecord& m, const std::vector<queue::Envelope>& envs, std::string* out) {
  auto q = QueueOf(envs);
  if (!q || *q == QueueName::kCorrupt) return false;
  std::string id = queue::FormatMsgId(m.id) + (*q == QueueName::kActive ? "*" : *q == QueueName::kHold ? "!" : "");
  std::string sender = m.sender.empty() ? "MAILER-DAEMON" : Printable(m.sender);
  *out += fmt::format("{:<11} {:>7} {:>20.20} {}\n", id, m.size, Arrival(m.arrival), sender);
  std::vector<std::pair<std::string, std::string>> rows;  // (reason, recipient)
  for (const auto& e : envs) {
    if (e.state == queue::State::kCorrupt) continue;
    rows.emplace_back(Printable(e.last_error), Printable(e.recipient));
  }
  std::sort(rows.begin(), rows.end());
  std::string reason;
  for (const auto& [why, rcpt] : rows) {
    if (why != reason) {
      reason = why;
      size_t pad = reason.size() < 76 ? 76 - reason.size() : 0;
      *out += fmt::format("{:{}}({})\n", "", pad, reason);
    }
    *out += fmt::format("{:41}{}\n", "", rcpt);
  }
  return true;
}

}  // namespace

bool ListQueue(queue::Queue& q, FILE* out) {
  uint64_t count = 0, bytes = 0;
  std::string buf;
  auto st = ForEachMessage(q, [&](const queue::MessageRecord& m, const std::vector<queue::Envelope>& envs) {
    std::string one;
    if (!ShowMessage(m, envs, &one)) return true;
    buf += count == 0 ? fmt::format("{:<11} {:>7} {:<20} {}\n", "-Queue ID-", "--Size--", "----Arrival Time----",
                                    "-Sender/Recipient-------")
                      : "\n";
    buf += one;
    ++count;
    bytes += m.size;
    if (buf.size() >= 64 * 1024) {
      fwrite(buf.data(), 1, buf.size(), out);
      buf.clear();
    }
    return true;
  });
  fwrite(buf.data(), 1, buf.size(), out);
  if (!st.ok()) {
    log::Error("cannot read the queue: {}", st.message);
    return false;
  }
  if (count == 0)
    fputs("Mail queue is empty\n", out);
  else
    fprintf(out, "\n-- %llu Kbytes in %llu Request%s.\n", static_cast<unsigned long long>(bytes / 1024),
            static_cast<unsigned long long>(count), count == 1 ? "" : "s");
  return fflush(out) == 0;
}

int Mailq(const config::Config& cfg) {
  auto q = OpenExisting(cfg);
  if (!q) {
    log::Error("{}", q.error());
    return kExTempFail;
  }
  // A queue that was never created is empty; opening it would create it.
  if (!*q) {
    fputs("Mail queue is empty\n", stdout);
    return 0;
  }
  return ListQueue(**q, stdout) ? 0 : kExTempFail;
}

}  // namespace postern::showq
