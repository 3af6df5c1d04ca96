// smtp/command.cc — SMTP command line splitting; see command.h.
#include "postern/smtp/command.h"

#include <cstring>

#include "postern/util/strings.h"

namespace postern::smtp {
namespace {

constexpr bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view TrimBlanks(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && IsBlank(s[b])) ++b;
  while (e > b && IsBlank(s[e - 1])) --e;
  return s.substr(b, e - b);
}

struct VerbEntry {
  std::string_view name;
  Verb verb;
};

constexpr VerbEntry kVerbs[] = {
    {"HELO", Verb::kHelo}, {"EHLO", Verb::kEhlo}, {"LHLO", Verb::kLhlo},
    {"MAIL", Verb::kMail}, {"RCPT", Verb::kRcpt}, {"DATA", Verb::kData},
    {"BDAT", Verb::kBdat}, {"RSET", Verb::kRset}, {"NOOP", Verb::kNoop},
    {"QUIT", Verb::kQuit}, {"HELP", Verb::kHelp}, {"VRFY", Verb::kVrfy},
    {"EXPN", Verb::kExpn}, {"STARTTLS", Verb::kStarttls}, {"AUTH", Verb::kAuth},
    {"ETRN", Verb::kEtrn},
};

}  // namespace

std::string_view VerbName(Verb v) {
  for (const auto& e : kVerbs)
    if (e.verb == v) return e.name;
  return "unknown";
}

bool ContainsNul(std::string_view line) {
  return !line.empty() && std::memchr(line.data(), '\0', line.size()) != nullptr;
}

Command ParseCommand(std::string_view line) {
  Command cmd;
  std::string_view s = TrimBlanks(line);
  size_t n = 0;
  while (n < s.size() && !IsBlank(s[n])) ++n;
  cmd.word = s.substr(0, n);
  cmd.arg = TrimBlanks(s.substr(n));
  for (const auto& e : kVerbs) {
    if (EqualsIgnoreCase(cmd.word, e.name)) {
      cmd.verb = e.verb;
      break;
    }
  }
  return cmd;
}

namespace {

// Index one past the '>' that closes the '<' at s[0], skipping quoted strings
// and backslash pairs; npos when unterminated.
size_t MatchBracket(std::string_view s) {
  bool quoted = false;
  for (size_t i = 1; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\') {
      ++i;  // the escaped octet, whatever it is
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == '>' && !quoted) {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

}  // namespace

Result<PathArg> ParsePathArg(std::string_view arg, std::string_view keyword,
                             bool allow_unbracketed) {
  if (arg.size() <= keyword.size() || !EqualsIgnoreCase(arg.substr(0, keyword.size()), keyword) ||
      arg[keyword.size()] != ':')
    return Err("Syntax: expected " + std::string(keyword) + ":<address>");
  std::string_view rest = arg.substr(keyword.size() + 1);
  while (!rest.empty() && IsBlank(rest.front())) rest.remove_prefix(1);
  if (rest.empty()) return Err("Syntax: missing address");
  PathArg out;
  size_t end;
  if (rest.front() == '<') {
    end = MatchBracket(rest);
    if (end == std::string_view::npos) return Err("Syntax: unterminated <address>");
  } else {
    if (!allow_unbracketed) return Err("Syntax: address must be enclosed in <>");
    end = 0;
    while (end < rest.size() && !IsBlank(rest[end])) ++end;
  }
  if (end < rest.size() && !IsBlank(rest[end])) return Err("Syntax: garbage after address");
  out.path = rest.substr(0, end);
  out.params = TrimBlanks(rest.substr(end));
  return out;
}

Result<BdatArg> ParseBdatArg(std::string_view arg, uint64_t max_size) {
  std::string_view s = TrimBlanks(arg);
  size_t n = 0;
  while (n < s.size() && !IsBlank(s[n])) ++n;
  std::string_view size = s.substr(0, n);
  std::string_view rest = TrimBlanks(s.substr(n));
  // 20 digits hold any uint64_t; longer strings are refused before conversion.
  if (size.empty() || size.size() > 20) return Err("Syntax: BDAT needs a chunk size");
  for (char c : size)
    if (c < '0' || c > '9') return Err("Syntax: bad BDAT chunk size");
  unsigned long long v = 0;
  if (!ParseUnsigned(size, &v) || v > max_size) return Err("BDAT chunk size exceeds limit");
  BdatArg out;
  out.size = v;
  if (!rest.empty()) {
    if (!EqualsIgnoreCase(rest, "LAST")) return Err("Syntax: expected BDAT size [LAST]");
    out.last = true;
  }
  return out;
}

}  // namespace postern::smtp
