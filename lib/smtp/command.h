// smtp/command.h — SMTP command lines: verb recognition, MAIL/RCPT argument
// splitting, BDAT arguments. Pure functions over string_view; total on any bytes.
#pragma once

#include <cstdint>
#include <string_view>

#include "postern/smtp/limits.h"
#include "postern/util/result.h"

namespace postern::smtp {

enum class Verb {
  kUnknown, kHelo, kEhlo, kLhlo, kMail, kRcpt, kData, kBdat, kRset, kNoop,
  kQuit, kHelp, kVrfy, kExpn, kStarttls, kAuth, kEtrn,
};

// Upper-case name of a verb ("MAIL"); "unknown" for kUnknown. For logging
// and for Postfix's per-command counters ("mail=1 rcpt=2").
std::string_view VerbName(Verb v);

struct Command {
  Verb verb = Verb::kUnknown;
  std::string_view word;  // the verb as the client wrote it (for "502 ... command not recognized")
  std::string_view arg;   // everything after the verb, trimmed of spaces and tabs
};

// Splits a command line (CRLF already removed). Verbs are case-insensitive and
// separated from the argument by spaces or tabs. Never fails: an empty or
// unrecognised verb is kUnknown. The caller checks length and NUL bytes first
// (ContainsNul, kMaxCommandLine) because Postfix answers those differently.
Command ParseCommand(std::string_view line);

// True when the line holds a NUL byte (Postfix logs and refuses such lines).
bool ContainsNul(std::string_view line);

// The parts of a MAIL or RCPT argument: the path with its angle brackets (or
// the bare address when unbracketed was allowed) and the ESMTP parameters.
struct PathArg {
  std::string_view path;
  std::string_view params;
};

// Parses "FROM:<path> params" (keyword "FROM") or "TO:<path> params"
// (keyword "TO"). Like Postfix, white space after the colon is accepted;
// an unbracketed address is accepted only when allow_unbracketed (Postfix's
// strict_rfc821_envelopes = no). Brackets are matched honouring quoted
// strings and backslash escapes, so "<\"a>b\"@c>" is one path.
Result<PathArg> ParsePathArg(std::string_view arg, std::string_view keyword,
                             bool allow_unbracketed = false);

struct BdatArg {
  uint64_t size = 0;
  bool last = false;
};

// Parses "size [LAST]" (RFC 3030). Sizes above max_size are refused so a
// chunk length can never overflow the caller's arithmetic.
Result<BdatArg> ParseBdatArg(std::string_view arg, uint64_t max_size);

}  // namespace postern::smtp
