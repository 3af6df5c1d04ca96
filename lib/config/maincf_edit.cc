// config/maincf_edit.cc — main.cf editing for postconf -e/-X/-# and the
// atomic file replacement both main.cf and master.cf edits go through.
#include "postern/config/maincf_edit.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "postern/config/maincf.h"
#include "postern/util/fd.h"
#include "postern/util/strings.h"

namespace postern::config {

namespace {

constexpr size_t kMaxConfigFile = 16 << 20;  // far beyond any sane main.cf

std::string Errno() { return std::strerror(errno); }

bool IsBlankOrComment(std::string_view line) {
  std::string_view t = Trim(line);
  return t.empty() || t[0] == '#';
}

// The name a main.cf logical line assigns, or "" for a malformed line.
std::string_view AssignedName(std::string_view logical) {
  size_t eq = logical.find('=');
  if (eq == logical.npos) return {};
  return Trim(logical.substr(0, eq));
}

}  // namespace

ConfigText::ConfigText(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == text.npos ? text.size() : nl;
    lines_.push_back({std::string(text.substr(pos, end - pos)), {}, false});
    pos = nl == text.npos ? text.size() : nl + 1;
  }
  for (size_t i = 0; i < lines_.size(); ++i) {
    std::string_view line = lines_[i].text;
    if (IsBlankOrComment(line)) continue;
    if (!IsSpace(line[0])) {
      entries_.push_back({i, i, std::string(Trim(line))});
    } else if (!entries_.empty()) {
      // A continuation after interleaved comments still belongs to the entry,
      // as in SplitLogicalLines; one before any entry belongs to nothing.
      entries_.back().last = i;
      entries_.back().logical += ' ';
      entries_.back().logical += Trim(line);
    }
  }
}

void ConfigText::Replace(size_t entry, std::string replacement) {
  const Entry& e = entries_.at(entry);
  for (size_t i = e.first; i <= e.last; ++i) {
    lines_[i].changed = true;
    lines_[i].edited.clear();
  }
  lines_[e.first].edited = std::move(replacement);
}

void ConfigText::CommentOut(size_t entry) {
  const Entry& e = entries_.at(entry);
  for (size_t i = e.first; i <= e.last; ++i) {
    if (lines_[i].changed) continue;  // already replaced or commented
    lines_[i].changed = true;
    lines_[i].edited = IsBlankOrComment(lines_[i].text) ? lines_[i].text + "\n"
                                                         : "#" + lines_[i].text + "\n";
  }
}

void ConfigText::Append(std::string lines) { appended_ += lines; }

std::string ConfigText::Render() const {
  std::string out;
  for (const Line& l : lines_) {
    if (l.changed) {
      out += l.edited;
    } else {
      out += l.text;
      out += '\n';
    }
  }
  return out + appended_;
}

bool IsParameterName(std::string_view name) {
  if (name.empty() || name.size() > 256) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
      return false;
  return true;
}

Result<std::pair<std::string, std::string>> SplitNameValue(std::string_view arg) {
  size_t eq = arg.find('=');
  if (eq == arg.npos)
    return Err("missing '=' after parameter name: \"" + std::string(arg) + "\"");
  std::string_view name = Trim(arg.substr(0, eq));
  std::string_view value = Trim(arg.substr(eq + 1));
  if (!IsParameterName(name)) return Err("bad parameter name: \"" + std::string(name) + "\"");
  if (value.find_first_of("\r\n") != value.npos)
    return Err("parameter " + std::string(name) + ": value must be one line");
  return std::pair<std::string, std::string>(name, value);
}

Result<MainEditResult> EditMainCf(std::string_view text, MainEditOp op,
                                  const std::vector<std::pair<std::string, std::string>>& items,
                                  std::string_view origin) {
  // name -> index into items (the last one given wins, as Postfix's table does)
  std::map<std::string, size_t, std::less<>> wanted;
  for (size_t i = 0; i < items.size(); ++i) {
    const auto& [name, value] = items[i];
    if (!IsParameterName(name)) return Err("bad parameter name: \"" + name + "\"");
    if (op == MainEditOp::kSet && value.find_first_of("\r\n") != std::string::npos)
      return Err("parameter " + name + ": value must be one line");
    wanted[name] = i;
  }
  auto line_for = [&](size_t i) {
    const auto& [name, value] = items[i];
    return value.empty() ? name + " =\n" : name + " = " + value + "\n";
  };

  ConfigText doc(text);
  MainEditResult result;
  std::map<std::string, int, std::less<>> found;
  for (size_t e = 0; e < doc.entries().size(); ++e) {
    std::string_view name = AssignedName(doc.entries()[e].logical);
    auto it = wanted.find(name);
    if (name.empty() || it == wanted.end()) continue;
    if (++found[it->first] == 2)
      result.warnings.push_back(std::string(origin) + ": multiple entries for \"" + it->first + "\"");
    switch (op) {
      case MainEditOp::kSet: doc.Replace(e, line_for(it->second)); break;
      case MainEditOp::kDelete: doc.Replace(e, ""); break;
      case MainEditOp::kComment: doc.CommentOut(e); break;
    }
  }
  if (op == MainEditOp::kSet) {
    for (size_t i = 0; i < items.size(); ++i) {
      if (found.count(items[i].first) || wanted[items[i].first] != i) continue;
      doc.Append(line_for(i));
      found[items[i].first] = 1;
    }
  }
  result.text = doc.Render();
  // An edit must never turn a good file into one the daemons refuse.
  if (Config::Parse(text, origin).ok()) {
    if (auto check = Config::Parse(result.text, origin); !check)
      return Err("edit would make the file malformed: " + check.error());
  }
  return result;
}

Result<std::string> ReadTextFile(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return Err("open " + path + ": " + Errno());
  std::string out;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Err("read " + path + ": " + Errno());
    if (n == 0) break;
    out.append(buf, size_t(n));
    if (out.size() > kMaxConfigFile) return Err("read " + path + ": file too large");
  }
  return out;
}

Result<void> ReplaceFileAtomically(const std::string& path, std::string_view content) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  std::string tmp = path + ".tmpXXXXXX";
  Fd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (fd.get() < 0) return Err("create " + tmp + ": " + Errno());
  auto fail = [&](const std::string& what) {
    std::string msg = what + " " + tmp + ": " + Errno();
    ::unlink(tmp.c_str());
    return Err(msg);
  };
  struct stat st;
  mode_t mode = ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
  if (::fchmod(fd.get(), mode) != 0) return fail("chmod");
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("write");
    done += size_t(n);
  }
  if (::fsync(fd.get()) != 0) return fail("fsync");
  if (fd.Close() != 0) return fail("close");
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("rename to " + path + " from");
  // The rename is durable only once the directory is on disk too.
  Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() >= 0) ::fsync(dfd.get());
  return {};
}

}  // namespace postern::config
