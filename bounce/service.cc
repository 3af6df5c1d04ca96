// bounce/service.cc — one request: plan, compose, enqueue, log as Postfix's
// bounce daemon does ("ID: sender non-delivery notification: NEWID").
#include "bounce/service.h"

#include <algorithm>
#include <ctime>

#include "postern/log/log.h"

namespace postern::bounce {

namespace {

// Most of a message read to find its header block when only that is attached.
constexpr uint64_t kHeaderReadMax = 1u << 20;

Result<int64_t> Seconds(const config::Config& cfg, std::string_view name) {
  auto t = cfg.GetTime(name);
  if (!t) return Err(t.error());
  return static_cast<int64_t>(t->count());
}

}  // namespace

std::string Qualify(const std::string& addr, const std::string& origin) {
  if (addr.empty() || addr.find('@') != std::string::npos || origin.empty()) return addr;
  return addr + "@" + origin;
}

Result<Settings> Settings::FromConfig(const config::Config& cfg) {
  Settings s;
  struct {
    const char* name;
    std::string* out;
  } strs[] = {{"queue_directory", &s.queue_directory}, {"myhostname", &s.hostname},
              {"mail_name", &s.mail_name},             {"myorigin", &s.myorigin},
              {"bounce_notice_recipient", &s.addresses.bounce_rcpt},
              {"2bounce_notice_recipient", &s.addresses.two_bounce_rcpt},
              {"delay_notice_recipient", &s.addresses.delay_rcpt},
              {"double_bounce_sender", &s.addresses.double_bounce}};
  for (auto& p : strs) {
    auto v = cfg.Get(p.name);
    if (!v) return Err(v.error());
    *p.out = *v;
  }
  for (std::string* a : {&s.addresses.bounce_rcpt, &s.addresses.two_bounce_rcpt, &s.addresses.delay_rcpt,
                         &s.addresses.double_bounce})
    *a = Qualify(*a, s.myorigin);
  auto classes = cfg.GetList("notify_classes");
  if (!classes) return Err(classes.error());
  auto mask = ParseNotifyClasses(*classes);
  if (!mask) return Err(mask.error());
  s.addresses.classes = *mask;
  auto limit = cfg.GetSize("bounce_size_limit");
  if (!limit) return Err(limit.error());
  s.size_limit = *limit;
  auto warn = Seconds(cfg, "delay_warning_time");
  if (!warn) return Err(warn.error());
  s.delay_warning = *warn;
  auto life = Seconds(cfg, "maximal_queue_lifetime");
  if (!life) return Err(life.error());
  s.lifetime = *life;
  return s;
}

queue::Outcome<std::string> Service::Original(queue::MsgId id, uint64_t size, bool headers_only) {
  auto body = q_->OpenBody(id);
  if (!body.ok()) return body.status();
  uint64_t want = headers_only ? std::min<uint64_t>(size, kHeaderReadMax) : size;
  std::string text(want, '\0');
  size_t got = 0;
  while (got < want) {
    auto n = body->Read(text.data() + got, want - got);
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    got += *n;
  }
  text.resize(got);
  if (!headers_only) return text;
  std::string_view head = HeaderBlock(text);
  if (head.size() == text.size() && got == kHeaderReadMax) {
    // No end of headers within the read limit: keep whole lines only.
    size_t nl = head.rfind('\n');
    head = nl == std::string_view::npos ? std::string_view() : head.substr(0, nl + 1);
  }
  return std::string(head);
}

queue::Outcome<queue::MsgId> Service::Enqueue(const ipc::BounceRequest& req, const queue::MessageRecord& orig,
                                              const Notice& n) {
  const bool too_big = !n.headers_only && s_.size_limit > 0 && orig.size > s_.size_limit;
  auto original = Original(req.message_id, orig.size, n.headers_only || too_big);
  if (!original.ok()) return original.status();
  cleanup::Submission sub;
  sub.record.sender = n.envelope_sender;
  sub.record.protocol = "bounce";
  sub.record.client_name = "localhost";
  sub.record.client_addr = "127.0.0.1";
  const bool eight_bit = (orig.flags & (queue::kFlag8BitMime | queue::kFlagSmtpUtf8)) != 0;
  if (eight_bit) sub.record.flags |= queue::kFlag8BitMime;
  auto m = cleanup_->Begin(std::move(sub));
  if (!m.ok()) return m.status();
  cleanup::Message& msg = **m;
  ComposeInput in;
  in.kind = req.kind;
  in.notice = &n;
  in.hostname = s_.hostname;
  in.mail_name = s_.mail_name;
  in.queue_id = queue::FormatMsgId(req.message_id);
  in.notice_id = queue::FormatMsgId(msg.id());
  in.sender = orig.sender;
  in.envid = orig.dsn_envid;
  in.arrival = orig.arrival;
  in.now = std::time(nullptr);
  in.delay_warning = s_.delay_warning;
  in.lifetime = s_.lifetime;
  in.eight_bit = eight_bit;
  in.original = *original;
  in.original_truncated = too_big;
  if (auto st = msg.AddRecipient({n.to, "", 0}); !st.ok()) return st;
  if (auto st = msg.Append(Compose(in)); !st.ok()) return st;
  if (auto st = msg.Finish(); !st.ok()) return st;
  return cleanup_->Commit(std::move(*m));
}

ipc::BounceAnswer Service::Handle(const ipc::BounceRequest& req) {
  const std::string id = queue::FormatMsgId(req.message_id);
  auto orig = q_->GetMessage(req.message_id);
  if (!orig.ok()) {
    log::Warning("{}: cannot read the message to report on: {}", id, orig.status().message);
    return {false, 0, "message not readable: " + orig.status().message};
  }
  PlanResult plan = Plan(req.kind, orig->sender, uint8_t(orig->dsn_ret), req.recipients, s_.addresses);
  if (log::Tracing("bounce")) {
    std::string who;
    for (const auto& r : req.recipients) who += (who.empty() ? "<" : ", <") + r.address + "> " + r.action;
    log::Trace("bounce", "{}: request from qmgr about {} recipient(s) ({}) of a message from <{}>: {} notice(s) planned",
               id, req.recipients.size(), who, orig->sender, plan.notices.size());
  }
  if (plan.notices.empty()) {
    if (plan.discarded.rfind("undeliverable postmaster", 0) == 0) log::Warning("{}: {}", id, plan.discarded);
    else log::Info("{}: {}", id, plan.discarded);
    return {true, 0, plan.discarded};
  }
  ipc::BounceAnswer answer{true, 0, ""};
  for (size_t i = 0; i < plan.notices.size(); ++i) {
    const Notice& n = plan.notices[i];
    auto nid = Enqueue(req, *orig, n);
    if (!nid.ok()) {
      // The first notice is the one the sender (or postmaster) must get:
      // without it qmgr keeps the envelopes. Postmaster copies are best effort.
      if (i == 0) {
        log::Warning("{}: cannot enqueue {}: {}", id, n.label, nid.status().message);
        return {false, 0, nid.status().message};
      }
      log::Warning("{}: postmaster notice failed while bouncing to {}: {}", id, orig->sender, nid.status().message);
      continue;
    }
    log::Info("{}: {}: {}", id, n.label, queue::FormatMsgId(*nid));
    log::Trace("bounce", "{}: {} to <{}> queued as {} ({} recipient(s) reported{})", id, n.label, n.to,
               queue::FormatMsgId(*nid), n.recipients.size(), n.headers_only ? ", headers only" : "");
    if (i == 0) answer.notice_id = *nid;
  }
  return answer;
}

}  // namespace postern::bounce
