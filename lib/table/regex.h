// table/regex.h — one compiled regular expression of the regexp: (POSIX
// extended, <regex.h>) or pcre: (PCRE2) dialect, with Postfix's pattern flags.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "postern/util/result.h"

namespace postern::table {

enum class Dialect { kRegexp, kPcre };

// PCRE2 work limits per match, so that a hostile key cannot make a
// backtracking pattern spin: exceeding one is a lookup error, not a miss.
constexpr uint32_t kPcreMatchLimit = 1000000;
constexpr uint32_t kPcreDepthLimit = 10000;

// Byte offsets of a capture group in the subject; {-1, -1} when it took no part.
using Span = std::pair<std::ptrdiff_t, std::ptrdiff_t>;

class Regex {
 public:
  virtual ~Regex() = default;
  // Capture groups in the pattern ($1 ... $groups() may be substituted).
  virtual int groups() const = 0;
  // True on a match, with spans[0] the whole match and spans[n] group n;
  // an error when the engine gave up (PCRE2 match or depth limit).
  virtual Result<bool> Match(std::string_view subject, std::vector<Span>* spans) const = 0;
};

// Compiles `pattern` with Postfix's flags of the dialect, each of which toggles
// an option: regexp: i (case-insensitive, on by default), x (extended syntax,
// on by default), m (newline-sensitive); pcre: i (caseless, on by default),
// m, s, x, A, E, U, X. The error is the engine's own message.
Result<std::unique_ptr<Regex>> CompileRegex(Dialect dialect, std::string_view pattern,
                                            std::string_view flags);

}  // namespace postern::table
