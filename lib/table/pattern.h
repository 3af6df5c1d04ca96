// table/pattern.h — regexp_table(5) and pcre_table(5): "/pattern/flags result"
// rules, "!/pattern/", nested if/endif blocks, $1..$9 substitution; the first
// matching rule wins. Bad rules are skipped with a warning naming file:line.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postern/table/regex.h"
#include "postern/util/result.h"

namespace postern::table {

// Largest pattern file read, and most rules kept from one.
constexpr size_t kMaxPatternFileSize = size_t{16} << 20;
constexpr size_t kMaxPatternRules = 200000;

class PatternRules;
// What loading `path` as a table of `dialect` reports (postern check): the
// warnings of skipped rules, or an error when the file cannot be used at all.
Result<std::vector<std::string>> CheckPatternFile(Dialect dialect, const std::string& path);

class PatternRules {
 public:
  // Fails only when the file is over kMaxPatternRules; a bad line is skipped
  // and reported in warnings ("regexp map FILE, line N: ...").
  static Result<PatternRules> Parse(std::string_view text, std::string_view origin, Dialect dialect,
                                    std::vector<std::string>* warnings);
  // The expanded result of the first matching rule; an error when a match
  // gave up (PCRE2 limits), naming file and line.
  Result<std::optional<std::string>> Match(std::string_view key) const;
  size_t size() const { return rules_.size(); }

 private:
  enum class Kind { kMatch, kIf, kEndif };
  // A piece of the result text: literal text, or capture group `group` (>0).
  struct Part {
    std::string text;
    int group = 0;
  };
  struct Rule {
    Kind kind = Kind::kMatch;
    std::shared_ptr<const Regex> re;  // null: an unusable IF, which never matches
    bool negate = false;
    std::vector<Part> result;
    size_t skip_to = 0;  // kIf: index after the matching endif
    int line = 0;
  };
  std::string Expand(const Rule& r, std::string_view key, const std::vector<Span>& spans) const;
  std::string origin_;  // "regexp map FILE"
  std::vector<Rule> rules_;
};

}  // namespace postern::table
