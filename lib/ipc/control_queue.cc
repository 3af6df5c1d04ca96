// ipc/control_queue.cc — envelope listings for `show queue`; see
// control_queue.h.
#include "postern/ipc/control_queue.h"

#include <cstdio>

#include "postern/queue/ids.h"
#include "postern/util/strings.h"

namespace postern::ipc::control {

namespace {

std::string Family(const queue::MessageRecord& m) {
  if (m.client_addr.empty()) return "local";
  return m.client_addr.find(':') != std::string::npos ? "inet6" : "inet4";
}

std::string Flags(const queue::MessageRecord& m, const queue::Envelope& e) {
  std::string f;
  auto add = [&](const char* s) { f += (f.empty() ? "" : ",") + std::string(s); };
  if (!m.auth_user.empty()) add("authenticated");
  if (m.sender.empty()) add("bounce");
  if (m.client_addr.empty()) add("internal");
  switch (e.state) {
    case queue::State::kActive: add("inflight"); break;
    case queue::State::kHold: add("hold"); break;
    case queue::State::kCorrupt: add("corrupt"); break;
    default: add("pending"); break;
  }
  return f;
}

// A field must not break the line or the `|` columns of a reader that splits
// on the first twelve bars; the error comes last and may hold bars.
std::string OneLine(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c == '\n' || c == '\r') c = ' ';
  return out;
}

std::string RunStateText(const RunState& rs) {
  switch (rs.kind) {
    case RunState::kPending: return "pending|" + std::to_string(rs.seconds);
    case RunState::kInflight: return "inflight|" + std::to_string(rs.seconds);
    case RunState::kHeld: return "held";
    case RunState::kCorrupt: return "corrupt";
    case RunState::kOffline: break;
  }
  return "offline";
}

const char* RunStateName(RunState::Kind k) {
  switch (k) {
    case RunState::kPending: return "pending";
    case RunState::kInflight: return "inflight";
    case RunState::kHeld: return "held";
    case RunState::kCorrupt: return "corrupt";
    case RunState::kOffline: break;
  }
  return "offline";
}

}  // namespace

std::string EnvelopeType(const queue::MessageRecord& m, const queue::Envelope& e) {
  if (m.sender.empty()) return "bounce";
  if (e.transport == "local" || e.transport == "virtual") return "mda";
  return "mta";
}

std::string FormatQueueLine(const queue::MessageRecord& m, const queue::Envelope& e, const RunState& rs) {
  std::string s = queue::FormatEnvId(e.id);
  for (const std::string& f : {Family(m), EnvelopeType(m, e), Flags(m, e), OneLine(m.sender),
                               OneLine(e.orig_recipient.empty() ? e.recipient : e.orig_recipient), OneLine(e.recipient),
                               std::to_string(e.created), std::to_string(e.expiry), std::to_string(e.last_attempt),
                               std::to_string(e.attempts), RunStateText(rs), OneLine(e.last_error)})
    s += "|" + f;
  return s;
}

std::string FormatQueueJson(const queue::MessageRecord& m, const queue::Envelope& e, const RunState& rs) {
  auto str = [](const char* k, std::string_view v) { return "\"" + std::string(k) + "\":" + JsonString(v); };
  auto num = [](const char* k, int64_t v) { return "\"" + std::string(k) + "\":" + std::to_string(v); };
  std::string flags = "[";
  std::string fl = Flags(m, e);
  for (size_t pos = 0; pos <= fl.size();) {
    size_t comma = fl.find(',', pos);
    if (comma == std::string::npos) comma = fl.size();
    flags += (flags.size() > 1 ? "," : "") + JsonString(std::string_view(fl).substr(pos, comma - pos));
    pos = comma + 1;
  }
  flags += "]";
  std::string s = "{" + str("id", queue::FormatEnvId(e.id)) + "," + str("family", Family(m)) + "," +
                  str("type", EnvelopeType(m, e)) + ",\"flags\":" + flags + "," + str("sender", m.sender) + "," +
                  str("orig_rcpt", e.orig_recipient.empty() ? e.recipient : e.orig_recipient) + "," +
                  str("dest", e.recipient) + "," + num("creation", e.created) + "," + num("expiry", e.expiry) + "," +
                  num("last_try", e.last_attempt) + "," + num("attempts", e.attempts) + "," +
                  str("runstate", RunStateName(rs.kind));
  if (rs.kind == RunState::kPending || rs.kind == RunState::kInflight) s += "," + num("runstate_seconds", rs.seconds);
  return s + "," + str("error", e.last_error) + "}";
}

std::string FormatEnvelopeDetail(const queue::MessageRecord& m, const queue::Envelope& e, const RunState& rs) {
  std::string s;
  auto line = [&](const char* k, std::string_view v) { s += std::string(k) + ": " + OneLine(v) + "\n"; };
  line("id", queue::FormatEnvId(e.id));
  line("message", queue::FormatMsgId(m.id));
  line("type", EnvelopeType(m, e));
  line("state", queue::StateName(e.state));
  line("runstate", RunStateText(rs));
  line("flags", Flags(m, e));
  line("sender", m.sender);
  line("rcpt", e.orig_recipient.empty() ? e.recipient : e.orig_recipient);
  line("dest", e.recipient);
  line("transport", e.transport);
  line("nexthop", e.nexthop);
  line("client", m.client_name + (m.client_addr.empty() ? "" : "[" + m.client_addr + "]"));
  line("helo", m.helo);
  line("protocol", m.protocol);
  line("size", std::to_string(m.size));
  line("ctime", std::to_string(e.created));
  line("expire", std::to_string(e.expiry));
  line("lasttry", std::to_string(e.last_attempt));
  line("nexttry", std::to_string(e.next_attempt));
  line("retry", std::to_string(e.attempts));
  line("errorline", e.last_error);
  return s;
}

RunState StoredRunState(const queue::Envelope& e, int64_t now, bool offline) {
  if (e.state == queue::State::kHold) return {RunState::kHeld, 0};
  if (e.state == queue::State::kCorrupt) return {RunState::kCorrupt, 0};
  if (offline) return {RunState::kOffline, 0};
  if (e.state == queue::State::kActive) return {RunState::kInflight, now - e.last_attempt};
  return {RunState::kPending, e.next_attempt > now ? e.next_attempt - now : 0};
}

}  // namespace postern::ipc::control
