// mda/verdict.h — the outcome of one delivery attempt by a delivery agent on
// this host (local, pipe, virtual, error), with the enhanced status code and the reason text.
#pragma once

#include <string>
#include <string_view>

namespace postern::mda {

struct Verdict {
  enum class Kind { kSent, kDefer, kBounce };
  Kind kind = Kind::kSent;
  std::string dsn;   // "2.0.0", "4.2.0", "5.1.1"
  std::string text;  // "delivered to maildir", "mail forwarding loop for x@y"

  static Verdict Sent(std::string text) { return {Kind::kSent, "2.0.0", std::move(text)}; }
  static Verdict Defer(std::string dsn, std::string text) { return {Kind::kDefer, std::move(dsn), std::move(text)}; }
  static Verdict Bounce(std::string dsn, std::string text) { return {Kind::kBounce, std::move(dsn), std::move(text)}; }
  // Postfix's mbox_dsn(): a full mailbox bounces (5.2.2), a full disk or a
  // transient error defers, anything else gets `dsn` (4.x.x defers).
  static Verdict FromErrno(int err, std::string text, const char* dsn = "5.2.0");
};

// Postfix's dsn_split: "5.1.1 text" (a class 2, 4 or 5 status of 1-3 digit
// parts, then a space or the end) sets *dsn and *rest (leading blanks
// skipped); false when the text does not start with a status.
bool SplitStatus(std::string_view text, std::string* dsn, std::string* rest);

}  // namespace postern::mda
