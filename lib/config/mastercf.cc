// config/mastercf.cc — master.cf parsing with file:line errors; see mastercf.h.
#include "postern/config/mastercf.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "postern/config/maincf.h"
#include "postern/config/values.h"
#include "postern/util/strings.h"

namespace postern::config {

Result<std::vector<std::string>> SplitMasterFields(std::string_view line) {
  std::vector<std::string> out;
  size_t i = 0;
  while (true) {
    while (i < line.size() && IsSpace(line[i])) ++i;
    if (i >= line.size()) break;
    if (line[i] == '{') {
      int depth = 0;
      size_t j = i;
      for (; j < line.size(); ++j) {
        if (line[j] == '{') ++depth;
        else if (line[j] == '}' && --depth == 0) break;
      }
      if (j == line.size()) return Err("missing '}' in \"" + std::string(line.substr(i)) + "\"");
      if (j + 1 < line.size() && !IsSpace(line[j + 1]))
        return Err("text after '}' in \"" + std::string(line.substr(i)) + "\"");
      out.emplace_back(Trim(line.substr(i + 1, j - i - 1)));
      i = j + 1;
    } else {
      size_t j = i;
      while (j < line.size() && !IsSpace(line[j])) ++j;
      out.emplace_back(line.substr(i, j - i));
      i = j;
    }
  }
  return out;
}

namespace {

Result<std::optional<bool>> YesNoDash(std::string_view v, const char* column) {
  if (v == "-") return std::optional<bool>();
  if (v == "y") return std::optional<bool>(true);
  if (v == "n") return std::optional<bool>(false);
  return Err(std::string("bad ") + column + " field: \"" + std::string(v) + "\" (use y, n or -)");
}

Result<void> ParseColumns(const std::vector<std::string>& f, MasterService* s) {
  static const std::set<std::string_view> kTypes = {"inet", "unix", "unix-dgram", "fifo", "pass"};
  s->service = f[0];
  s->type = f[1];
  if (!kTypes.count(s->type))
    return Err("bad transport type: \"" + s->type + "\" (use inet, unix, unix-dgram, fifo or pass)");
  auto priv = YesNoDash(f[2], "private");
  if (!priv) return Err(priv.error());
  auto unpriv = YesNoDash(f[3], "unprivileged");
  if (!unpriv) return Err(unpriv.error());
  auto chroot = YesNoDash(f[4], "chroot");
  if (!chroot) return Err(chroot.error());
  s->private_ = *priv;
  s->unpriv = *unpriv;
  s->chroot = *chroot;
  if (s->type == "inet" && s->private_.value_or(false))
    return Err("inet service \"" + s->service + "\" cannot be private (set the private column to n)");
  if (f[5] != "-") {
    std::string_view w = f[5];
    if (!w.empty() && w.back() == '?') {
      s->wakeup_if_used = true;
      w.remove_suffix(1);
    }
    unsigned long long n = 0;
    if (!ParseUnsigned(w, &n) || n > 1000000)
      return Err("bad wakeup field: \"" + f[5] + "\" (use seconds, seconds? or -)");
    s->wakeup = int(n);
  }
  if (f[6] != "-") {
    unsigned long long n = 0;
    if (!ParseUnsigned(f[6], &n) || n > 1000000)
      return Err("bad maxproc field: \"" + f[6] + "\" (use a number or -)");
    s->maxproc = int(n);
  }
  return {};
}

// -o name=value, -o name = value inside braces, -oname=value.
Result<void> ParseOverrides(MasterService* s) {
  const auto& a = s->args;
  for (size_t i = 0; i < a.size(); ++i) {
    std::string_view opt;
    if (a[i] == "-o") {
      if (i + 1 == a.size()) return Err("-o without name=value");
      opt = a[++i];
    } else if (StartsWith(a[i], "-o") && a[i].find('=') != std::string::npos) {
      opt = std::string_view(a[i]).substr(2);
    } else if (StartsWith(a[i], "-")) {
      continue;
    } else {
      break;  // as Postfix's getopt: the rest belongs to the command (pipe's argv=)
    }
    size_t eq = opt.find('=');
    std::string_view name = Trim(opt.substr(0, eq == opt.npos ? 0 : eq));
    if (eq == opt.npos || name.empty())
      return Err("bad -o argument: \"" + std::string(opt) + "\" (use -o name=value)");
    s->overrides.emplace_back(std::string(name), std::string(Trim(opt.substr(eq + 1))));
  }
  return {};
}

}  // namespace

Result<std::vector<MasterService>> ParseMasterCf(std::string_view text, std::string_view origin) {
  auto lines = SplitLogicalLines(text, origin);
  if (!lines) return Err(lines.error());
  std::vector<MasterService> out;
  std::set<std::string> seen;
  for (const LogicalLine& l : *lines) {
    std::string where = std::string(origin) + ", line " + std::to_string(l.line) + ": ";
    auto fields = SplitMasterFields(l.text);
    if (!fields) return Err(where + fields.error());
    if (fields->size() < 8)
      return Err(where + "expected 8 fields (service type private unpriv chroot wakeup maxproc command), found " +
                 std::to_string(fields->size()));
    MasterService s;
    s.line = l.line;
    s.fields.assign(fields->begin(), fields->begin() + 8);
    s.command = (*fields)[7];
    s.args.assign(fields->begin() + 8, fields->end());
    if (auto r = ParseColumns(*fields, &s); !r) return Err(where + r.error());
    if (auto r = ParseOverrides(&s); !r) return Err(where + r.error());
    if (!seen.insert(s.Key()).second) return Err(where + "duplicate service: " + s.Key());
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::vector<MasterService>> LoadMasterCf(const std::string& config_dir) {
  std::string path = config_dir + "/master.cf";
  std::ifstream in(path, std::ios::binary);
  if (!in) return Err("open " + path + ": " + std::strerror(errno));
  std::ostringstream buf;
  buf << in.rdbuf();
  return ParseMasterCf(buf.str(), path);
}

static std::string Quote(const std::string& arg) {
  // An argument with white space was written in braces; print it so again.
  bool space = std::any_of(arg.begin(), arg.end(), IsSpace);  // what SplitMasterFields splits at
  return space || arg.empty() ? "{ " + arg + " }" : arg;
}

std::string FormatMasterLine(const MasterService& s, bool fold) {
  // Postfix's column widths: service 10, type 5, then 7 each.
  static const int kWidth[7] = {10, 5, 7, 7, 7, 7, 7};
  std::string out;
  // Any field may have been written in braces (the command too): Quote each.
  for (int i = 0; i < 7; ++i) {
    std::string f = Quote(s.fields[size_t(i)]);
    out += f;
    int pad = kWidth[i] - int(f.size());
    out.append(size_t(pad > 0 ? pad : 0), ' ');
    out += ' ';
  }
  out += Quote(s.fields[7]);
  const auto& a = s.args;
  for (size_t i = 0; i < a.size(); ++i) {
    bool opt_with_value = a[i] == "-o" && i + 1 < a.size();
    out += (fold && StartsWith(a[i], "-")) ? "\n  " : " ";
    out += Quote(a[i]);
    if (opt_with_value) out += " " + Quote(a[++i]);
  }
  return out;
}

}  // namespace postern::config
