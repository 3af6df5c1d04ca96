// notify/notify.cc — see notify.h; the notice follows Postfix's
// smtpd_chat_notify, line for line.
#include "postern/notify/notify.h"

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

#include "postern/util/strings.h"

namespace postern::notify {

namespace {

constexpr size_t kWrapLength = 78;  // Postfix's LENGTH
constexpr size_t kWrapIndent = 4;   // Postfix's INDENT
constexpr size_t kMaxPiece = 980;   // one word never makes a line longer than SMTP allows
constexpr std::string_view kCrlf = "\r\n";

// printable(line, '?'): control and 8-bit bytes from the network stay out.
std::string Printable(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (uint8_t(c) < 0x20 || uint8_t(c) >= 0x7f) c = '?';
  return out;
}

// line_wrap: lines of at most kWrapLength broken before a word that would
// pass it, continuation lines indented; a word longer than that stays whole
// (up to kMaxPiece). Each output line starts with one space: untrusted text
// never starts a line of ours.
void Wrap(std::string_view line, std::string* out) {
  size_t indent = 0;
  while (true) {
    size_t room = kWrapLength - indent;
    size_t cut = line.size();
    if (cut > room) {
      cut = line.rfind(' ', room);
      if (cut == std::string_view::npos || cut == 0) cut = std::min(line.find(' '), line.size());
    }
    cut = std::min(cut, kMaxPiece);
    std::string_view piece = line.substr(0, cut);
    while (!piece.empty() && piece.back() == ' ') piece.remove_suffix(1);
    out->append(" ").append(indent, ' ').append(piece).append(kCrlf);
    line.remove_prefix(cut);
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    if (line.empty()) return;
    indent = kWrapIndent;
  }
}

}  // namespace

Result<unsigned> ParseNotifyClasses(const std::vector<std::string>& names) {
  static constexpr std::pair<std::string_view, unsigned> kNames[] = {
      {"bounce", kClassBounce},     {"2bounce", kClass2Bounce},   {"delay", kClassDelay},
      {"resource", kClassResource}, {"software", kClassSoftware}, {"policy", kClassPolicy},
      {"protocol", kClassProtocol}, {"data", kClassData}};
  unsigned mask = 0;
  for (const auto& n : names) {
    bool known = false;
    for (const auto& [name, bit] : kNames) {
      if (EqualsIgnoreCase(n, name)) {
        mask |= bit;
        known = true;
      }
    }
    if (!known) return Err("notify_classes: unknown class \"" + n + "\"");
  }
  return mask;
}

std::string MailDate(int64_t t) {
  time_t tt = static_cast<time_t>(t);
  struct tm tm {};
  localtime_r(&tt, &tm);
  char buf[80];
  // %a and %b are locale-dependent; RFC 5322 wants the English names.
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char zone[16];
  strftime(zone, sizeof zone, "%z", &tm);
  std::snprintf(buf, sizeof buf, "%s, %d %s %d %02d:%02d:%02d %s (%s)", kDays[tm.tm_wday % 7], tm.tm_mday,
                kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, zone,
                tm.tm_zone ? tm.tm_zone : "UTC");
  return buf;
}

void Transcript::Add(std::string_view prefix, std::string_view line) {
  if (lines_ >= max_lines_ || text_.size() + prefix.size() + line.size() >= max_bytes_) {
    truncated_ = true;
    return;
  }
  ++lines_;
  text_.append(prefix).append(line).push_back('\n');
}

void Transcript::AddReplies(std::string_view replies) {
  while (!replies.empty()) {
    size_t nl = replies.find('\n');
    std::string_view line = replies.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    Add("Out: ", line);
    if (nl == std::string_view::npos) break;
    replies.remove_prefix(nl + 1);
  }
}

std::string Transcript::Text() const {
  if (!truncated_) return text_;
  return text_ + "(transcript cut after " + std::to_string(lines_) + " lines)\n";
}

void Transcript::Clear() {
  lines_ = 0;
  truncated_ = false;
  std::string().swap(text_);
}

std::string ComposeTranscriptNotice(const TranscriptNotice& n) {
  std::string out;
  out.reserve(n.transcript.size() + 1024);
  auto header = [&](std::string_view name, std::string_view value) {
    out.append(name).append(": ").append(value).append(kCrlf);
  };
  header("From", n.from + " (Mail Delivery System)");
  header("To", n.to + " (Postmaster)");
  header("Subject", fmt::format("{} {}: errors from {}", n.mail_name, n.role, Printable(n.peer)));
  header("Date", MailDate(n.now));
  header("Message-Id", "<" + n.message_id + ">");
  header("Auto-Submitted", "auto-generated");
  out.append(kCrlf);
  out.append("Transcript of session follows.\r\n\r\n");
  std::string_view t = n.transcript;
  while (!t.empty()) {
    size_t nl = t.find('\n');
    Wrap(Printable(t.substr(0, nl)), &out);
    if (nl == std::string_view::npos) break;
    t.remove_prefix(nl + 1);
  }
  out.append(kCrlf);
  if (!n.reason.empty()) out.append("Session aborted, reason: " + Printable(n.reason) + "\r\n");
  out.append(kCrlf);
  out.append("For other details, see the local mail logfile\r\n");
  return out;
}

bool Limiter::Allow(int64_t now) {
  if (now - start_ >= window_) {
    start_ = now;
    sent_ = 0;
  }
  if (sent_ >= burst_) {
    ++refused_;
    return false;
  }
  ++sent_;
  return true;
}

}  // namespace postern::notify
