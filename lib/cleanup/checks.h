// cleanup/checks.h — Postfix's built-in content inspection (header_checks(5)):
// the tables, the action a table result names, and what one message's matches decided.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postern/mime/walker.h"
#include "postern/table/table.h"
#include "postern/util/result.h"

namespace postern::config {
class Config;
}

namespace postern::cleanup {

enum class Where { kHeader, kBody };
// Which table set inspects a header: header_checks, mime_header_checks or nested_header_checks.
enum class HeaderClass { kPrimary, kMime, kNested };

// MIME-Version: and the Content-* headers Postfix flags as MIME headers.
bool IsMimeHeader(std::string_view header);
// Postfix's classes: a multipart part's headers and the MIME headers of any
// header block are MIME headers; the rest follow their block.
HeaderClass ClassOf(mime::Block block, std::string_view header);

struct Action {
  enum class Kind { kDunno, kReject, kWarn, kInfo, kIgnore, kHold, kDiscard, kPrepend, kReplace, kRedirect, kFilter, kBcc };
  Kind kind = Kind::kDunno;
  std::string text;  // the optional text or argument after the action name
};

// The smtp client allows only the actions that change or log content
// (Postfix's header_body_checks): INFO, WARN, IGNORE, PREPEND, REPLACE, DUNNO, OK.
enum class Scope { kCleanup, kSmtp };

// Parses a table result. A malformed or unknown action (or one the scope does
// not allow) is DUNNO, with Postfix's warning in *warning.
Action ParseAction(std::string_view value, Where where, Scope scope, std::string_view map_class,
                   std::string* warning);

// The tables of one program: header_checks ... body_checks, or smtp_* / lmtp_*.
struct CheckTables {
  table::TableList header, mime, nested, body;
  std::string header_name, mime_name, nested_name, body_name;  // the parameters, for log lines
  uint64_t body_limit = 51200;  // body_checks_size_limit
  mime::Limits limits;          // mime_nesting_limit, mime_boundary_length_limit
  size_t header_limit = 102400; // header_size_limit: bytes of one header inspected and kept
  bool empty() const { return header.empty() && mime.empty() && nested.empty() && body.empty(); }
  // `prefix`: "" for cleanup, "smtp_" or "lmtp_" for the client. Null when no table is set.
  static Result<std::shared_ptr<CheckTables>> Load(const config::Config& cfg, std::string_view prefix);
};

// Who the message is from, for Postfix's cleanup log line.
struct LogContext {
  std::string queue_id;
  std::string origin;  // "host[addr]", or "local"
  std::string sender, recipient, proto, helo;
};

// The envelope effects of the matches so far.
struct Verdict {
  bool reject = false;  // REJECT (or a table that failed): nothing is queued
  int code = 0;         // 550, or 451 for a 4.x.x reason
  std::string reason;   // "5.7.1 text", the reply after the code
  bool hold = false, discard = false;
  std::string redirect, filter;
  std::vector<std::string> bcc;
};

// What the checks make of one header or body line.
struct Edit {
  std::vector<std::string> before;  // PREPEND text, written before it
  bool keep = true;                 // false: the line goes (IGNORE, REPLACE)
  std::optional<std::string> replacement;  // REPLACE text, written in its place
};

class Checks {
 public:
  Checks(std::shared_ptr<CheckTables> tables, Scope scope) : tables_(std::move(tables)), scope_(scope) {}
  void SetContext(LogContext c) { ctx_ = std::move(c); }
  const LogContext& context() const { return ctx_; }

  // One logical header: continuation lines joined by "\n", no line end.
  Edit Header(HeaderClass cls, std::string_view header);
  // One body line at `offset` bytes into its MIME body segment; lines past
  // body_checks_size_limit are not inspected.
  Edit Body(std::string_view line, uint64_t offset);
  const Verdict& verdict() const { return verdict_; }
  const CheckTables& tables() const { return *tables_; }

 private:
  Edit Inspect(table::TableList& list, const std::string& map_class, Where where, std::string_view content);
  void Act(const Action& a, Where where, std::string_view content, Edit* edit);
  void LogAction(std::string_view action, Where where, std::string_view content, std::string_view text) const;

  std::shared_ptr<CheckTables> tables_;
  Scope scope_;
  LogContext ctx_;
  Verdict verdict_;
  bool active_ = true;  // REJECT, DISCARD and REDIRECT end the inspection
};

}  // namespace postern::cleanup
