// table/source.cc — parsing of postmap and aliases(5) source text. Skips bad
// lines with a warning rather than failing, as Postfix's postmap does.
#include "postern/table/source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <unordered_map>

#include "postern/config/maincf.h"
#include "postern/table/file_watch.h"
#include "postern/util/strings.h"

namespace postern::table {

namespace {

std::string Where(std::string_view origin, int line) {
  return std::string(origin) + ", line " + std::to_string(line) + ": ";
}

size_t FindSpace(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i)
    if (IsSpace(s[i])) return i;
  return std::string_view::npos;
}

// "key whitespace value": the key ends at the first white space.
bool SplitMapLine(std::string_view s, std::string_view* key, std::string_view* value) {
  size_t sp = FindSpace(s);
  if (sp == std::string_view::npos) return false;
  *key = s.substr(0, sp);
  *value = Trim(s.substr(sp));
  return !value->empty();
}

// "name: value" where name may be "quoted" (RFC 822 quoted string) and ends
// at the first unquoted colon.
bool SplitAliasLine(std::string_view s, std::string* key, std::string_view* value) {
  key->clear();
  size_t i = 0;
  if (!s.empty() && s[0] == '"') {
    for (i = 1; i < s.size() && s[i] != '"'; ++i) {
      if (s[i] == '\\' && i + 1 < s.size()) ++i;
      key->push_back(s[i]);
    }
    if (i >= s.size()) return false;
    ++i;
    while (i < s.size() && IsSpace(s[i])) ++i;
    if (i >= s.size() || s[i] != ':') return false;
  } else {
    size_t colon = s.find(':');
    if (colon == std::string_view::npos) return false;
    *key = std::string(TrimRight(s.substr(0, colon)));
    i = colon;
  }
  *value = Trim(s.substr(i + 1));
  return !key->empty();
}

}  // namespace

Result<Parsed> ParseSource(std::string_view text, std::string_view origin, Syntax syntax,
                           bool fold_case) {
  auto lines = config::SplitLogicalLines(text, origin);
  if (!lines) return Err(lines.error());
  Parsed out;
  out.entries.reserve(lines->size());
  for (const config::LogicalLine& l : *lines) {
    std::string where = Where(origin, l.line);
    if (l.text.size() > kMaxLineLength) {
      out.warnings.push_back(where + "line too long, skipped");
      continue;
    }
    std::string key;
    std::string_view value;
    if (syntax == Syntax::kMap) {
      std::string_view k;
      if (!SplitMapLine(l.text, &k, &value)) {
        out.warnings.push_back(where + "expected format: key whitespace value");
        continue;
      }
      key = std::string(k);
    } else {
      if (!SplitAliasLine(l.text, &key, &value)) {
        out.warnings.push_back(where + "need name:value pair");
        continue;
      }
      if (value.empty()) {
        out.warnings.push_back(where + "no value for \"" + key + "\"");
        continue;
      }
    }
    if (key.size() > kMaxKeyLength) {
      out.warnings.push_back(where + "key longer than " + std::to_string(kMaxKeyLength) +
                             " bytes, skipped");
      continue;
    }
    if (fold_case) key = ToLower(key);
    out.entries.push_back({std::move(key), std::string(value), l.line});
  }
  return out;
}

void ResolveDuplicates(std::vector<Entry>* entries, Duplicates mode, std::string_view origin,
                       std::vector<std::string>* warnings) {
  std::unordered_map<std::string_view, size_t> seen;
  seen.reserve(entries->size());
  std::vector<bool> drop(entries->size(), false);
  for (size_t i = 0; i < entries->size(); ++i) {
    const Entry& e = (*entries)[i];
    auto [it, fresh] = seen.emplace(e.key, i);
    if (fresh) continue;
    if (mode == Duplicates::kReplace) {
      drop[it->second] = true;
      it->second = i;
      continue;
    }
    drop[i] = true;
    if (mode == Duplicates::kWarn)
      warnings->push_back(Where(origin, e.line) + "duplicate entry: \"" + e.key + "\"");
  }
  size_t w = 0;
  for (size_t i = 0; i < entries->size(); ++i)
    if (!drop[i]) {
      if (w != i) (*entries)[w] = std::move((*entries)[i]);
      ++w;
    }
  entries->resize(w);
}

Result<std::string> ReadWholeFile(const std::string& path, size_t limit) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return Err("open " + path + ": " + std::strerror(errno));
  struct stat st {};
  std::string data;
  if (fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode)) {
    if (static_cast<size_t>(st.st_size) > limit) return Err(path + ": file too large");
    data.reserve(static_cast<size_t>(st.st_size));
  }
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Err("read " + path + ": " + std::strerror(errno));
    if (n == 0) break;
    if (data.size() + static_cast<size_t>(n) > limit) return Err(path + ": file too large");
    data.append(buf, static_cast<size_t>(n));
  }
  return data;
}

}  // namespace postern::table
