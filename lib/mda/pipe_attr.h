// mda/pipe_attr.h — the command attributes of a pipe(8) service in master.cf
// (flags= user= directory= chroot= eol= null_sender= size= argv=...), parsed
// and checked as Postfix's pipe does; and the $name / ${name} / $(name)
// macros of its argument vector. pipe runs with them; `postern check` reports
// what would stop it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postern/mda/privs.h"
#include "postern/util/result.h"

namespace postern::mda {

struct PipeFlags {
  bool blank_line = false;    // B: a blank line at the end
  bool delivered_to = false;  // D: Delivered-To: recipient (and loop detection)
  bool from_line = false;     // F: "From sender  date" first
  bool orig_to = false;       // O: X-Original-To: original recipient
  bool return_path = false;   // R: Return-Path: <sender>
  bool final_delivery = false;  // X: DSN action "delivered" instead of "relayed"
  bool fold_host = false;     // h: lower-case domains and $nexthop
  bool quote = false;         // q: quote address local parts in $sender, $recipient, $original_recipient
  bool fold_user = false;     // u: lower-case recipient local parts
  bool dot_stuff = false;     // .: "." at the start of a line → ".."
  bool quote_from = false;    // >: "From " at the start of a line → ">From "
};

struct PipeAttr {
  PipeFlags flags;
  Creds user;                 // user= (gid from :group when given)
  std::string directory;      // directory=, "" = $queue_directory
  std::string chroot;         // chroot=
  std::string eol = "\n";     // eol=, backslash escapes decoded
  std::string null_sender = "MAILER-DAEMON";  // null_sender=
  uint64_t size_limit = 0;    // size=, 0 = none
  std::vector<std::string> argv;  // argv=..., macros not yet expanded
};

// The ids that user= must not name (Postfix refuses mail_owner's uid and gid).
struct ForbiddenIds {
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::string name;
};

// `args`: what follows the command in master.cf, leading -o options skipped.
Result<PipeAttr> ParsePipeAttr(const std::vector<std::string>& args, const ForbiddenIds& owner);

// True for ParsePipeAttr's "unknown username/group" errors: an account that
// is missing on this host (Debian's stock master.cf names several), which
// stops the service only when mail is routed to it.
bool IsUnknownAccount(std::string_view error);

// Postfix's unescape(): \a \b \f \n \r \t \v \ddd (octal) \\ ; other \c → c.
std::string Unescape(std::string_view text);

// One piece of an argv= element: literal text, or a macro with Postfix's
// conditional forms ${name?text} (text when name is not empty) and
// ${name:text} (text when name is empty).
struct MacroPiece {
  bool macro = false;
  std::string text;  // the literal, or the macro name
  char cond = 0;     // 0, '?' or ':'
  std::string cond_text;
};

// Splits an element; "$$" is a literal '$'. Unknown macro names and broken
// syntax are errors naming the element.
Result<std::vector<MacroPiece>> ParseMacros(std::string_view arg);

// Macros that expand once per recipient, so that an element holding one
// becomes as many elements as there are recipients.
bool PerRecipientMacro(std::string_view name);

}  // namespace postern::mda
