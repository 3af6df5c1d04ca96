// cleanup/content.h — Postfix's cleanup for message content, shared by every
// way into the queue (smtpd, pickup, local's forwarding): stray CR/LF and NUL
// neutralized, header_size_limit, and the hop count that stops mail loops.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "postern/cleanup/checks.h"
#include "postern/cleanup/header_edit.h"
#include "postern/queue/queue.h"
#include "postern/smtp/data.h"
#include "postern/smtp/headers.h"
#include "postern/util/result.h"

namespace postern::config {
class Config;
}

namespace postern::cleanup {

class CheckFilter;

// The headers hopcount_limit counts.
inline const std::vector<std::string> kHopHeaders = {"Received", "Delivered-To"};

struct Options {
  unsigned hopcount_limit = 50;       // 0: no limit
  size_t header_size_limit = 102400;  // bytes of one header kept
  bool replace_stray_cr_lf = true;    // cleanup_replace_stray_cr_lf
  std::vector<std::string> drop_headers;  // smtpd: Return-Path
  bool always_add_missing_headers = false;
  std::string myhostname;                 // for an added Message-Id:
  // header_checks ... body_checks (CheckTables::Load): null for mail that
  // Postfix does not inspect (local forwarding, notices).
  std::shared_ptr<CheckTables> checks;

  // hopcount_limit, header_size_limit, cleanup_replace_stray_cr_lf,
  // always_add_missing_headers, myhostname; with `checks` (mail from outside:
  // smtpd, pickup) also header_checks ... body_checks.
  static Result<Options> FromConfig(const config::Config& cfg, bool checks = false);
};

// Postfix's cleanup status for too many hops (cleanup_strerror.c).
inline constexpr int kHopsCode = 554;
inline constexpr const char* kHopsStatus = "5.4.0";
inline constexpr const char* kHopsText = "too many hops";

class Content {
 public:
  Content() : Content(Options()) {}
  explicit Content(const Options& o);
  ~Content();
  Content(Content&&) noexcept;
  Content& operator=(Content&&) noexcept;

  // Who the message is from, for the checks' log lines (before the first Apply).
  void SetCheckContext(LogContext c);
  // What header/body checks decided (REJECT, HOLD, DISCARD, REDIRECT, BCC,
  // FILTER); all false without checks.
  const Verdict& verdict() const;

  // Filters buf[from, end) in place (the bytes just appended); some bytes
  // may be withheld until the next call. Callers may write out all of buf
  // after each call. Feed the headers the caller prepends (Received:) too:
  // they count as hops, as in Postfix.
  void Apply(std::string* buf, size_t from);
  // End of content: whatever was withheld goes back to buf.
  void Finish(std::string* buf);

  // Postfix's cleanup: a header block without Message-Id:, Date: or From:
  // gets "Message-Id: <YYYYMMDDhhmmss.ID@$myhostname>", the arrival date and
  // the envelope sender; local submissions always, other mail only with
  // always_add_missing_headers. Call before the first Apply.
  void AddMissingHeaders(bool local, uint32_t msgid, std::string_view sender, time_t arrival);

  // Each whole header of the primary block goes through `fn` (cleanup's
  // header address rewriting; header_checks belong beside it). Call before
  // the first Apply. Without a hook headers stream through untouched.
  void OnHeader(HeaderEditor::Fn fn) { editor_ = HeaderEditor(std::move(fn), header_limit_ + 1024); }

  // Postfix's test: as many hop headers as hopcount_limit is too many.
  bool too_many_hops() const { return hop_limit_ != 0 && headers_.hops() >= hop_limit_; }
  unsigned hops() const { return headers_.hops(); }
  unsigned truncated() const { return headers_.truncated(); }
  uint64_t stray() const { return stray_.stray(); }
  uint64_t nuls() const { return stray_.nuls(); }
  // Postfix's logged form of the first Message-ID: header: unfolded, trimmed,
  // unprintable bytes as '?'; "<>" when the header block has none.
  std::string message_id() const;
  // One log line per kind of change made to message `id` (or its refusal).
  void Log(std::string_view id) const;

 private:
  smtp::StrayFilter stray_;
  std::unique_ptr<CheckFilter> checks_;  // between the two: it sees the client's headers, as Postfix
  smtp::HeaderFilter headers_;
  HeaderEditor editor_;
  unsigned hop_limit_;
  size_t header_limit_;
  bool always_add_;
  std::string myhostname_;
};

// The recipients to queue after header/body checks: REDIRECT replaces every
// address (keeping ORCPT and NOTIFY; duplicates go), BCC adds addresses with
// NOTIFY=NEVER, as Postfix.
std::vector<queue::Recipient> FinalRecipients(const Verdict& v, std::vector<queue::Recipient> rcpts);

}  // namespace postern::cleanup
