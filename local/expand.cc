// local/expand.cc — destination lists, attribute expansion and the
// environment filter; see expand.h.
#include "local/expand.h"

#include <cctype>

#include "postern/util/strings.h"

namespace postern::local {

namespace {

Destination Classify(std::string_view raw) {
  std::string t = Unquote(raw);
  Destination d;
  if (!t.empty() && t[0] == '|') {
    d.kind = Destination::Kind::kCommand;
    d.text = std::string(Trim(std::string_view(t).substr(1)));
  } else if (!t.empty() && t[0] == '/') {
    d.kind = Destination::Kind::kFile;
    d.text = t;
  } else if (t.size() > 9 && EqualsIgnoreCase(std::string_view(t).substr(0, 9), ":include:")) {
    d.kind = Destination::Kind::kInclude;
    d.text = std::string(Trim(std::string_view(t).substr(9)));
  } else if (!t.empty() && t[0] == '\\') {
    d.kind = Destination::Kind::kMailbox;
    d.text = t.substr(1);
  } else {
    d.text = t;
    if (d.text.size() >= 2 && d.text.front() == '<' && d.text.back() == '>')
      d.text = d.text.substr(1, d.text.size() - 2);
  }
  return d;
}

// An entry that is a command or file may hold blanks; plain addresses are
// also separated by white space.
bool Special(std::string_view e) {
  std::string_view t = TrimLeft(e);
  if (!t.empty() && t[0] == '"') t.remove_prefix(1);
  return !t.empty() && (t[0] == '|' || t[0] == '/' || t[0] == ':');
}

}  // namespace

std::string Unquote(std::string_view s) {
  s = Trim(s);
  if (s.size() < 2 || s.front() != '"' || s.back() != '"') return std::string(s);
  std::string out;
  for (size_t i = 1; i + 1 < s.size(); ++i) {
    if (s[i] == '\\' && i + 2 < s.size()) ++i;
    out += s[i];
  }
  return out;
}

std::vector<Destination> ParseDestinations(std::string_view text, size_t limit, bool* truncated) {
  std::vector<Destination> out;
  if (truncated) *truncated = false;
  std::vector<std::string> entries;
  std::string cur;
  bool quoted = false, line_start = true, comment = false;
  auto flush = [&] {
    if (Special(cur)) {
      if (!Trim(cur).empty()) entries.emplace_back(Trim(cur));
    } else {
      for (const std::string& w : SplitList(cur, " \t\r")) entries.push_back(w);
    }
    cur.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (comment) {
      if (c == '\n') comment = false, line_start = true;
      continue;
    }
    if (line_start && c == '#') {
      comment = true;
      continue;
    }
    line_start = c == '\n' || (line_start && (c == ' ' || c == '\t'));
    if (c == '"') quoted = !quoted;
    if (quoted && c == '\\' && i + 1 < text.size()) {
      cur += c;
      cur += text[++i];
      continue;
    }
    if (!quoted && (c == ',' || c == '\n')) {
      flush();
      quoted = false;
      continue;
    }
    cur += c;
  }
  flush();
  for (const std::string& e : entries) {
    if (out.size() >= limit) {
      if (truncated) *truncated = true;
      break;
    }
    Destination d = Classify(e);
    if (!d.text.empty()) out.push_back(std::move(d));
  }
  return out;
}

std::optional<std::string> ExpandAttributes(std::string_view text, const AttrLookup& lookup) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$' || i + 1 >= text.size()) {
      out += text[i];
      continue;
    }
    if (text[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    std::string_view name, cond;
    char op = 0;
    if (text[i + 1] == '{') {
      size_t end = text.find('}', i + 2);
      if (end == std::string_view::npos) return std::nullopt;
      std::string_view body = text.substr(i + 2, end - i - 2);
      size_t q = body.find_first_of("?:");
      name = body.substr(0, q);
      if (q != std::string_view::npos) {
        op = body[q];
        cond = body.substr(q + 1);
      }
      i = end;
    } else {
      size_t j = i + 1;
      while (j < text.size() && (std::isalnum(static_cast<unsigned char>(text[j])) || text[j] == '_')) ++j;
      name = text.substr(i + 1, j - i - 1);
      i = j - 1;
    }
    std::optional<std::string> v = lookup(name);
    bool defined = v && !v->empty();
    if (op == '?') {
      if (defined) out += cond;
    } else if (op == ':') {
      if (!defined) out += cond;
    } else {
      if (!defined) return std::nullopt;
      out += *v;
    }
  }
  return out;
}

std::string FilterEnvValue(std::string_view value) {
  static constexpr std::string_view kAllowed =
      "1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  std::string out(value.substr(0, 4096));
  for (char& c : out) {
    if (kAllowed.find(c) == std::string_view::npos) c = '_';
  }
  return out;
}

}  // namespace postern::local
