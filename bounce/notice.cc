// bounce/notice.cc — Postfix's notice rules and texts (its default bounce
// templates' wording) as RFC 3464 multipart/report messages.
#include "bounce/notice.h"

#include <cctype>
#include <cstdio>
#include <ctime>

#include <fmt/format.h>

#include "postern/queue/schema.h"
#include "postern/smtp/received.h"
#include "postern/util/strings.h"

namespace postern::bounce {

namespace {

constexpr std::string_view kCrlf = "\r\n";
// Human-readable lines are folded here so that no line nears RFC 5322's limit.
constexpr size_t kWrap = 76;

bool Wants(const ipc::BounceRecipient& r, uint8_t bit) { return r.notify == 0 || (r.notify & bit) != 0; }

std::vector<ipc::BounceRecipient> Select(const std::vector<ipc::BounceRecipient>& rcpts, uint8_t bit,
                                         bool when_unset) {
  std::vector<ipc::BounceRecipient> out;
  for (const auto& r : rcpts) {
    if (when_unset ? Wants(r, bit) : (r.notify & bit) != 0) out.push_back(r);
  }
  return out;
}

Notice ToPostmaster(const std::string& to, const Addresses& a, bool headers_only,
                    const std::vector<ipc::BounceRecipient>& rcpts, std::string label) {
  return Notice{to, a.double_bounce, true, headers_only, rcpts, std::move(label)};
}

// "3 hour(s)" as Postfix's templates say it, in the largest whole unit.
std::string Span(int64_t secs) {
  if (secs > 0 && secs % 86400 == 0) return fmt::format("{} day(s)", secs / 86400);
  if (secs > 0 && secs % 3600 == 0) return fmt::format("{} hour(s)", secs / 3600);
  if (secs > 0 && secs % 60 == 0) return fmt::format("{} minute(s)", secs / 60);
  return fmt::format("{} second(s)", secs);
}

// Appends `text` folded at kWrap columns, continuation lines indented.
void AppendWrapped(std::string_view text, std::string* out) {
  bool first = true;
  while (!text.empty()) {
    size_t room = first ? kWrap : kWrap - 4;
    if (!first) out->append("    ");
    size_t cut = text.size();
    if (cut > room) {
      size_t sp = text.rfind(' ', room);
      cut = sp == std::string_view::npos || sp == 0 ? room : sp;
    }
    out->append(text.substr(0, cut));
    out->append(kCrlf);
    text.remove_prefix(cut);
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    first = false;
  }
}

// The address part of an ORCPT value ("rfc822;a@b" -> "a@b").
std::string_view OrcptAddress(std::string_view orcpt) {
  size_t semi = orcpt.find(';');
  return semi == std::string_view::npos ? orcpt : Trim(orcpt.substr(semi + 1));
}

// A header field value without CR or LF, so nothing from a reason can start a new field.
std::string Field(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) out.push_back(c == '\r' || c == '\n' ? ' ' : c);
  return out;
}

bool ValidStatus(std::string_view s) {
  // class "." subject "." detail, RFC 3463: 2|4|5 . 1*3digit . 1*3digit
  if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return false;
  int dots = 0, digits = 0;
  for (size_t i = 2; i < s.size(); ++i) {
    if (s[i] == '.') {
      if (digits == 0 || ++dots > 1) return false;
      digits = 0;
    } else if (s[i] >= '0' && s[i] <= '9') {
      if (++digits > 3) return false;
    } else {
      return false;
    }
  }
  return dots == 1 && digits > 0;
}

std::string StatusOf(ipc::NoticeKind kind, const ipc::BounceRecipient& r) {
  if (ValidStatus(r.status)) return r.status;
  switch (kind) {
    case ipc::NoticeKind::kFailed: return "5.0.0";
    case ipc::NoticeKind::kDelayed: return "4.0.0";
    case ipc::NoticeKind::kSuccess: return "2.0.0";
  }
  return "5.0.0";
}

std::string ActionOf(ipc::NoticeKind kind, const ipc::BounceRecipient& r) {
  if (!r.action.empty()) return r.action;
  switch (kind) {
    case ipc::NoticeKind::kFailed: return "failed";
    case ipc::NoticeKind::kDelayed: return "delayed";
    case ipc::NoticeKind::kSuccess: return "delivered";
  }
  return "failed";
}

struct Texts {
  std::string_view subject, postmaster_subject, part_title;
};

Texts TextsOf(ipc::NoticeKind kind, bool headers_only) {
  switch (kind) {
    case ipc::NoticeKind::kDelayed:
      return {"Delayed Mail (still being retried)", "Postmaster Warning: Delayed Mail", "Undelivered Message Headers"};
    case ipc::NoticeKind::kSuccess:
      return {"Successful Mail Delivery Report", "Postmaster Copy: Successful Mail Delivery Report",
              headers_only ? "Delivered Message Headers" : "Delivered Message"};
    case ipc::NoticeKind::kFailed:
      break;
  }
  return {"Undelivered Mail Returned to Sender", "Postmaster Copy: Undelivered Mail",
          headers_only ? "Undelivered Message Headers" : "Undelivered Message"};
}

void Boilerplate(const ComposeInput& in, std::string* out) {
  auto line = [&](std::string_view l) {
    out->append(l);
    out->append(kCrlf);
  };
  line(fmt::format("This is the mail system at host {}.", in.hostname));
  line("");
  switch (in.kind) {
    case ipc::NoticeKind::kFailed:
      line("I'm sorry to have to inform you that your message could not");
      line("be delivered to one or more recipients. It's attached below.");
      break;
    case ipc::NoticeKind::kDelayed:
      line("####################################################################");
      line("# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #");
      line("####################################################################");
      line("");
      line(fmt::format("Your message could not be delivered for more than {}.", Span(in.delay_warning)));
      line(fmt::format("It will be retried until it is {} old.", Span(in.lifetime)));
      break;
    case ipc::NoticeKind::kSuccess:
      line("Your message was successfully delivered to the destination(s)");
      line("listed below. If the message was delivered to mailbox you will");
      line("receive no further notifications. Otherwise you may still receive");
      line("notifications of mail delivery errors from other systems.");
      line("");
      line("                   The mail system");
      line("");
      return;
  }
  line("");
  line("For further assistance, please send mail to postmaster.");
  line("");
  line("If you do so, please include this problem report. You can");
  line("delete your own text from the attached returned message.");
  line("");
  line("                   The mail system");
  line("");
}

void HumanPart(const ComposeInput& in, std::string* out) {
  const Notice& n = *in.notice;
  if (n.postmaster) {
    AppendWrapped(fmt::format("This is the mail system at host {}.", in.hostname), out);
    out->append(kCrlf);
    AppendWrapped(fmt::format("Postmaster copy of a notice about message {} from <{}>.", in.queue_id, in.sender), out);
    out->append(kCrlf);
  } else {
    Boilerplate(in, out);
  }
  for (const auto& r : n.recipients) {
    std::string who = "<" + r.address + ">";
    std::string_view orig = OrcptAddress(r.orig_recipient);
    if (!orig.empty() && !EqualsIgnoreCase(orig, r.address)) who += fmt::format(" (expanded from <{}>)", orig);
    AppendWrapped(Field(who + ": " + (r.diagnostic.empty() ? ActionOf(in.kind, r) : r.diagnostic)), out);
    out->append(kCrlf);
  }
  if (in.original_truncated) {
    AppendWrapped("The message is larger than bounce_size_limit: only its headers are attached.", out);
  }
}

void StatusPart(const ComposeInput& in, std::string* out) {
  auto field = [&](std::string_view name, std::string_view value) {
    out->append(name);
    out->append(": ");
    out->append(Field(value));
    out->append(kCrlf);
  };
  field("Reporting-MTA", "dns; " + in.hostname);
  field("X-Postern-Queue-ID", in.queue_id);
  field("X-Postern-Sender", "rfc822; " + in.sender);
  if (!in.envid.empty()) field("Original-Envelope-Id", in.envid);
  field("Arrival-Date", smtp::MailDate(in.arrival));
  for (const auto& r : in.notice->recipients) {
    out->append(kCrlf);
    field("Final-Recipient", "rfc822; " + r.address);
    if (!r.orig_recipient.empty()) {
      field("Original-Recipient",
            r.orig_recipient.find(';') == std::string::npos ? "rfc822;" + r.orig_recipient : r.orig_recipient);
    }
    field("Action", ActionOf(in.kind, r));
    field("Status", StatusOf(in.kind, r));
    if (std::string mta = RemoteMta(r.relay); !mta.empty()) field("Remote-MTA", mta);
    if (!r.diagnostic.empty()) field("Diagnostic-Code", DiagnosticCode(r.diagnostic));
    if (in.kind == ipc::NoticeKind::kDelayed && in.lifetime > 0)
      field("Will-Retry-Until", smtp::MailDate(in.arrival + in.lifetime));
  }
}

}  // namespace

PlanResult Plan(ipc::NoticeKind kind, std::string_view sender, uint8_t ret,
                const std::vector<ipc::BounceRecipient>& rcpts, const Addresses& a) {
  PlanResult p;
  // A notice about a notice to postmaster: nothing more may come of it.
  if (!sender.empty() && EqualsIgnoreCase(sender, a.double_bounce)) {
    p.discarded = "undeliverable postmaster notification discarded";
    return p;
  }
  const bool hdrs = ret == uint8_t(queue::DsnRet::kHdrs);
  switch (kind) {
    case ipc::NoticeKind::kFailed:
      if (sender.empty()) {
        if (a.classes & (kClassBounce | kClass2Bounce)) {
          p.notices.push_back(ToPostmaster(a.two_bounce_rcpt, a, false, rcpts, "postmaster non-delivery notification"));
        } else {
          p.discarded = "undeliverable bounce discarded (notify_classes has neither bounce nor 2bounce)";
        }
        return p;
      }
      if (auto mine = Select(rcpts, queue::kNotifyFailure, true); !mine.empty())
        p.notices.push_back(Notice{std::string(sender), "", false, hdrs, std::move(mine), "sender non-delivery notification"});
      if (a.classes & kClassBounce)
        p.notices.push_back(ToPostmaster(a.bounce_rcpt, a, true, rcpts, "postmaster non-delivery notification"));
      break;
    case ipc::NoticeKind::kDelayed:
      if (sender.empty()) {
        if (a.classes & kClass2Bounce) {
          p.notices.push_back(ToPostmaster(a.two_bounce_rcpt, a, true, rcpts, "postmaster delay notification"));
        } else {
          p.discarded = "no delay warning about a bounce (notify_classes has no 2bounce)";
        }
        return p;
      }
      if (auto mine = Select(rcpts, queue::kNotifyDelay, true); !mine.empty())
        p.notices.push_back(Notice{std::string(sender), "", false, true, std::move(mine), "sender delay notification"});
      if (a.classes & kClassDelay)
        p.notices.push_back(ToPostmaster(a.delay_rcpt, a, true, rcpts, "postmaster delay notification"));
      break;
    case ipc::NoticeKind::kSuccess:
      if (sender.empty()) {
        p.discarded = "no delivery status notification for the null sender";
        return p;
      }
      if (auto mine = Select(rcpts, queue::kNotifySuccess, false); !mine.empty()) {
        bool full = ret == uint8_t(queue::DsnRet::kFull);
        p.notices.push_back(
            Notice{std::string(sender), "", false, !full, std::move(mine), "sender delivery status notification"});
      }
      break;
  }
  if (p.notices.empty()) p.discarded = "no notice requested (DSN NOTIFY)";
  return p;
}

std::string_view HeaderBlock(std::string_view message) {
  size_t pos = 0;
  while (pos < message.size()) {
    size_t eol = message.find('\n', pos);
    std::string_view line = message.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    if (line.empty() || line == "\r") return message.substr(0, pos);
    if (eol == std::string_view::npos) return message;
    pos = eol + 1;
  }
  return message;
}

std::string RemoteMta(std::string_view relay) {
  size_t bracket = relay.find('[');
  if (bracket == std::string_view::npos || bracket == 0) return "";
  return "dns; " + std::string(relay.substr(0, bracket));
}

std::string DiagnosticCode(std::string_view reason) {
  constexpr std::string_view kSaid = " said: ";
  size_t at = reason.find(kSaid);
  if (at != std::string_view::npos) {
    std::string_view reply = reason.substr(at + kSaid.size());
    if (size_t in = reply.rfind(" (in reply to "); in != std::string_view::npos) reply = reply.substr(0, in);
    if (reply.size() >= 3 && std::isdigit(uint8_t(reply[0])) && std::isdigit(uint8_t(reply[1])) &&
        std::isdigit(uint8_t(reply[2])))
      return "smtp; " + Field(reply);
  }
  return "X-Postfix; " + Field(reason);
}

std::string Compose(const ComposeInput& in) {
  const Notice& n = *in.notice;
  Texts t = TextsOf(in.kind, n.headers_only);
  std::string boundary = fmt::format("{}.{}/{}", in.queue_id, in.now, in.hostname);
  std::string out;
  out.reserve(in.original.size() + 4096);
  auto header = [&](std::string_view name, std::string_view value) {
    out.append(name);
    out.append(": ");
    out.append(value);
    out.append(kCrlf);
  };
  char stamp[32];
  time_t now = static_cast<time_t>(in.now);
  struct tm tm {};
  gmtime_r(&now, &tm);
  strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &tm);
  const std::string_view cte = in.eight_bit ? "8bit" : "7bit";

  header("From", fmt::format("MAILER-DAEMON@{} (Mail Delivery System)", in.hostname));
  header("Subject", n.postmaster ? t.postmaster_subject : t.subject);
  header("To", Field(n.to));
  header("Auto-Submitted", "auto-replied");
  header("MIME-Version", "1.0");
  header("Content-Type", fmt::format("multipart/report; report-type=delivery-status;\r\n\tboundary=\"{}\"", boundary));
  header("Content-Transfer-Encoding", cte);
  header("Message-Id", fmt::format("<{}.{}@{}>", stamp, in.notice_id, in.hostname));
  header("Date", smtp::MailDate(in.now));
  out.append(kCrlf);
  out.append("This is a MIME-encapsulated message.\r\n\r\n");

  out.append("--" + boundary + "\r\n");
  header("Content-Description", "Notification");
  header("Content-Type", "text/plain; charset=us-ascii");
  out.append(kCrlf);
  HumanPart(in, &out);

  out.append("\r\n--" + boundary + "\r\n");
  header("Content-Description", "Delivery report");
  header("Content-Type", "message/delivery-status");
  out.append(kCrlf);
  StatusPart(in, &out);

  out.append("\r\n--" + boundary + "\r\n");
  header("Content-Description", t.part_title);
  header("Content-Type", n.headers_only || in.original_truncated ? "text/rfc822-headers" : "message/rfc822");
  header("Content-Transfer-Encoding", cte);
  out.append(kCrlf);
  out.append(in.original);
  if (!in.original.empty() && in.original.back() != '\n') out.append(kCrlf);
  out.append("\r\n--" + boundary + "--\r\n");
  return out;
}

}  // namespace postern::bounce
