// mda/message.cc — the queued message as delivery agents read it; see message.h.
#include "postern/mda/message.h"

#include <cctype>
#include <ctime>

#include "postern/log/log.h"
#include "postern/mda/copy.h"
#include "postern/util/strings.h"

namespace postern::mda {

Result<std::unique_ptr<queue::Queue>> OpenQueue(const config::Config& cfg, const std::string& dir) {
  auto opts = queue::OptionsFromConfig(cfg);
  if (!opts.ok()) return Err(opts.status().message);
  auto q = queue::Queue::Open(dir, *opts);
  if (!q.ok()) return Err("queue " + dir + ": " + q.status().message);
  return std::move(*q);
}

namespace {

// "rfc822;user@example" with RFC 3461 xtext (+2B) → user@example.
std::string DecodeOrcpt(std::string_view orcpt) {
  size_t semi = orcpt.find(';');
  if (semi == std::string_view::npos) return std::string(orcpt);
  std::string_view v = orcpt.substr(semi + 1);
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '+' && i + 2 < v.size() && std::isxdigit(static_cast<unsigned char>(v[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(v[i + 2]))) {
      out += char(std::stoi(std::string(v.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += v[i];
    }
  }
  return out;
}

}  // namespace

std::string LoadMessage(queue::Queue& q, Message* m) {
  auto body = q.OpenBody(m->req.message_id);
  if (!body.ok()) return "cannot read message: " + body.status().message;
  m->raw.resize(body->size());
  size_t got = 0;
  while (got < m->raw.size()) {
    auto n = body->Read(m->raw.data() + got, m->raw.size() - got);
    if (!n.ok()) return "cannot read message: " + n.status().message;
    if (*n == 0) break;
    got += *n;
  }
  m->raw.resize(got);
  m->lf = CrlfToLf(m->raw);
  // Delivered-To: headers of the header section (loop detection).
  std::string_view text = m->lf;
  size_t i = 0;
  while (i < text.size()) {
    size_t nl = text.find('\n', i);
    std::string_view line = text.substr(i, nl == std::string_view::npos ? text.size() - i : nl - i);
    if (line.empty()) break;
    if (line.size() > 13 && EqualsIgnoreCase(line.substr(0, 13), "delivered-to:"))
      m->delivered_to.push_back(ToLower(Trim(line.substr(13))));
    if (nl == std::string_view::npos) break;
    i = nl + 1;
  }
  return "";
}

std::string OriginalRecipient(const ipc::DeliveryRecipient& r) {
  return r.orig_recipient.empty() ? r.address : DecodeOrcpt(r.orig_recipient);
}

void LogDelivery(const Message& m, std::string_view rcpt, std::string_view orig, std::string_view relay,
                 std::chrono::steady_clock::time_point started, const Verdict& v) {
  double queued = std::max<double>(0, double(std::time(nullptr) - m.req.arrival));
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const char* status = v.kind == Verdict::Kind::kSent     ? "sent"
                       : v.kind == Verdict::Kind::kBounce ? "bounced"
                                                          : "deferred";
  std::string orig_to = EqualsIgnoreCase(orig, rcpt) ? "" : ", orig_to=<" + std::string(orig) + ">";
  log::Info("{}: to=<{}>{}, relay={}, {}, dsn={}, status={} ({})", m.msgid, rcpt, orig_to, relay,
            log::FormatDelays(queued + took, queued, 0, 0, took), v.dsn, status, v.text);
}

ipc::DeliveryResult ResultOf(uint64_t envelope_id, const Verdict& v, std::string relay) {
  ipc::DeliveryResult r;
  r.envelope_id = envelope_id;
  r.status = v.kind == Verdict::Kind::kSent     ? ipc::DeliveryStatus::kSent
             : v.kind == Verdict::Kind::kBounce ? ipc::DeliveryStatus::kBounced
                                                : ipc::DeliveryStatus::kDeferred;
  r.dsn = v.dsn;
  r.reason = v.text;
  r.relay = std::move(relay);
  return r;
}

}  // namespace postern::mda
