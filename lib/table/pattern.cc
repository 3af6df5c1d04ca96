// table/pattern.cc — regexp_table(5)/pcre_table(5) parsing and matching. As in
// Postfix, a bad rule is skipped with a warning; an unusable IF never matches
// so that its block stays closed.
#include "postern/table/pattern.h"

#include "postern/config/maincf.h"
#include "postern/table/source.h"
#include "postern/util/strings.h"

namespace postern::table {

namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// The first word of a line (keywords "if", "endif") and what follows it.
std::pair<std::string_view, std::string_view> FirstWord(std::string_view s) {
  size_t sp = 0;
  while (sp < s.size() && !IsSpace(s[sp])) ++sp;
  return {s.substr(0, sp), Trim(s.substr(sp))};
}

struct Pattern {
  bool negate = false;
  std::string_view regex;
  std::string_view flags;
  std::string_view rest;  // after the flags
};

// "[!]/regex/flags rest": the delimiter is the first character after the
// optional "!"; a backslash keeps the next character (and itself) in the regex.
bool ParsePattern(std::string_view s, Pattern* p, std::string* why) {
  if (!s.empty() && s[0] == '!') {
    p->negate = true;
    s = Trim(s.substr(1));
  }
  if (s.empty()) {
    *why = "no regexp, skipping this rule";
    return false;
  }
  char delim = s[0];
  if (IsNameChar(delim) || delim == '\\') {
    *why = "bad regexp delimiter \"" + std::string(1, delim) + "\", skipping this rule";
    return false;
  }
  size_t i = 1;
  while (i < s.size() && s[i] != delim) i += (s[i] == '\\' && i + 1 < s.size()) ? 2 : 1;
  if (i >= s.size()) {
    *why = "no closing regexp delimiter \"" + std::string(1, delim) + "\", skipping this rule";
    return false;
  }
  p->regex = s.substr(1, i - 1);
  size_t f = i + 1;
  while (f < s.size() && !IsSpace(s[f])) ++f;
  p->flags = s.substr(i + 1, f - i - 1);
  p->rest = Trim(s.substr(f));
  if (p->regex.empty()) {
    *why = "empty regexp, skipping this rule";
    return false;
  }
  return true;
}

// The result text with "$n", "${n}", "$(n)" and "$$" resolved into parts.
template <class PartT>
bool ParseResult(std::string_view text, int groups, bool negate, std::vector<PartT>* parts,
                 std::string* why) {
  std::string literal;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$') {
      literal += text[i];
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '$') {
      literal += '$';
      ++i;
      continue;
    }
    std::string_view name;
    if (i + 1 < text.size() && (text[i + 1] == '{' || text[i + 1] == '(')) {
      char close = text[i + 1] == '{' ? '}' : ')';
      size_t end = text.find(close, i + 2);
      if (end == std::string_view::npos) {
        *why = "bad replacement syntax: missing \"" + std::string(1, close) + "\", skipping this rule";
        return false;
      }
      name = text.substr(i + 2, end - i - 2);
      i = end;
    } else {
      size_t end = i + 1;
      while (end < text.size() && IsNameChar(text[end])) ++end;
      name = text.substr(i + 1, end - i - 1);
      i = end - 1;
    }
    if (!AllDigits(name) || name.size() > 3) {
      *why = "bad replacement syntax: \"$" + std::string(name) + "\", skipping this rule";
      return false;
    }
    if (negate) {
      *why = "$number found in negative match replacement text, skipping this rule";
      return false;
    }
    int n = std::stoi(std::string(name));
    if (n < 1 || n > groups) {
      *why = "out of range replacement index \"" + std::string(name) + "\", skipping this rule";
      return false;
    }
    if (!literal.empty()) parts->push_back({std::move(literal), 0});
    literal.clear();
    parts->push_back({std::string(), n});
  }
  if (!literal.empty()) parts->push_back({std::move(literal), 0});
  return true;
}

}  // namespace

Result<PatternRules> PatternRules::Parse(std::string_view text, std::string_view origin,
                                         Dialect dialect, std::vector<std::string>* warnings) {
  PatternRules out;
  out.origin_ = std::string(dialect == Dialect::kPcre ? "pcre" : "regexp") + " map " + std::string(origin);
  auto lines = config::SplitLogicalLines(text, origin);
  if (!lines) {
    warnings->push_back(lines.error());
    return out;
  }
  if (lines->size() > kMaxPatternRules)
    return Err(out.origin_ + ": more than " + std::to_string(kMaxPatternRules) + " rules");
  std::vector<size_t> open_ifs;
  for (const config::LogicalLine& l : *lines) {
    std::string where = out.origin_ + ", line " + std::to_string(l.line) + ": ";
    auto [word, after] = FirstWord(l.text);
    Rule rule;
    rule.line = l.line;
    if (EqualsIgnoreCase(word, "endif")) {
      if (open_ifs.empty()) {
        warnings->push_back(where + "ignoring ENDIF without matching IF");
        continue;
      }
      if (!after.empty()) warnings->push_back(where + "ignoring extra text after ENDIF");
      rule.kind = Kind::kEndif;
      out.rules_[open_ifs.back()].skip_to = out.rules_.size() + 1;
      open_ifs.pop_back();
      out.rules_.push_back(std::move(rule));
      continue;
    }
    bool is_if = EqualsIgnoreCase(word, "if");
    Pattern p;
    std::string why;
    bool ok = ParsePattern(is_if ? after : std::string_view(l.text), &p, &why);
    std::unique_ptr<Regex> re;
    if (ok) {
      auto compiled = CompileRegex(dialect, p.regex, p.flags);
      if (compiled) re = std::move(*compiled);
      else why = compiled.error() + ", skipping this rule";
      ok = compiled.ok();
    }
    if (ok && is_if && !p.rest.empty()) {
      why = "garbage after IF pattern, skipping this rule";
      ok = false;
    }
    if (ok && !is_if) {
      if (p.rest.empty()) warnings->push_back(where + "no replacement text: using empty string");
      ok = ParseResult(p.rest, re->groups(), p.negate, &rule.result, &why);
    }
    if (!ok) {
      warnings->push_back(where + why);
      // An unusable IF still needs its ENDIF accounted for: it never matches.
      if (!is_if) continue;
      re.reset();
      p.negate = false;
    }
    rule.re = std::move(re);
    rule.negate = p.negate;
    if (is_if) {
      rule.kind = Kind::kIf;
      open_ifs.push_back(out.rules_.size());
    }
    out.rules_.push_back(std::move(rule));
  }
  for (size_t i : open_ifs) {
    warnings->push_back(out.origin_ + ", line " + std::to_string(out.rules_[i].line) +
                        ": IF has no matching ENDIF");
    out.rules_[i].skip_to = out.rules_.size();
  }
  return out;
}

std::string PatternRules::Expand(const Rule& r, std::string_view key, const std::vector<Span>& spans) const {
  std::string out;
  for (const Part& part : r.result) {
    if (part.group == 0) {
      out += part.text;
      continue;
    }
    if (static_cast<size_t>(part.group) >= spans.size()) continue;
    auto [from, to] = spans[part.group];
    if (from >= 0 && to >= from) out += key.substr(from, to - from);
  }
  return out;
}

Result<std::vector<std::string>> CheckPatternFile(Dialect dialect, const std::string& path) {
  auto text = ReadWholeFile(path, kMaxPatternFileSize);
  if (!text) return Err(text.error());
  std::vector<std::string> warnings;
  auto rules = PatternRules::Parse(*text, path, dialect, &warnings);
  if (!rules) return Err(rules.error());
  return warnings;
}

Result<std::optional<std::string>> PatternRules::Match(std::string_view key) const {
  std::vector<Span> spans;
  for (size_t i = 0; i < rules_.size();) {
    const Rule& r = rules_[i];
    if (r.kind == Kind::kEndif) {
      ++i;
      continue;
    }
    bool hit = false;
    if (r.re) {
      auto m = r.re->Match(key, &spans);
      if (!m) return Err(origin_ + ", line " + std::to_string(r.line) + ": " + m.error());
      hit = *m != r.negate;
    }
    if (r.kind == Kind::kIf) {
      i = hit ? i + 1 : r.skip_to;
      continue;
    }
    if (hit) return std::optional<std::string>(Expand(r, key, spans));
    ++i;
  }
  return std::optional<std::string>();
}

}  // namespace postern::table
