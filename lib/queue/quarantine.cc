// queue/quarantine.cc — the quarantine area's files: written whole and renamed
// into place, listed from their headers, trimmed by age and total size; see
// quarantine.h.
#include "postern/queue/quarantine.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "postern/config/maincf.h"
#include "postern/queue/ids.h"
#include "postern/util/strings.h"

namespace postern::queue {

namespace {

constexpr size_t kMaxHeader = 64 * 1024;  // reason, client and up to many recipients

std::string OneLine(std::string_view v) {
  std::string s(v.substr(0, v.find_first_of("\r\n")));
  return s;
}

// Writes `data` to `path` durably: a temporary file, fsync, rename, directory fsync.
Result<void> WriteWhole(const std::string& dir, const std::string& name, const std::string& data) {
  std::string tmp = dir + "/.tmp." + name, path = dir + "/" + name;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Err("create " + tmp + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    done += size_t(n);
  }
  bool ok = done == data.size() && ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) saved = errno;
    ::unlink(tmp.c_str());
    return Err("write " + path + ": " + std::strerror(saved));
  }
  if (int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); d >= 0) {
    ::fsync(d);
    ::close(d);
  }
  return {};
}

}  // namespace

Result<QuarantineLimits> QuarantineLimits::FromConfig(const config::Config& cfg) {
  auto size = cfg.GetSize("quarantine_size_limit");
  if (!size) return Err(size.error());
  auto expire = cfg.GetTime("quarantine_expire");
  if (!expire) return Err(expire.error());
  return QuarantineLimits{*size, int64_t(expire->count())};
}

std::string FormatQuarantineHeader(const QuarantineEntry& e) {
  std::string h = fmt::format("id: {}\ntime: {}\nreason: {}\nclient: {}\nhelo: {}\nsender: {}\n", e.id, e.time,
                              OneLine(e.reason), OneLine(e.client), OneLine(e.helo), OneLine(e.sender));
  for (const std::string& r : e.recipients) h += "recipient: " + OneLine(r) + "\n";
  return h + "\n";
}

std::optional<QuarantineEntry> ParseQuarantineHeader(std::string_view text, size_t* content_start) {
  QuarantineEntry e;
  size_t pos = 0;
  while (pos < text.size() && pos < kMaxHeader) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) return std::nullopt;
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty()) {
      *content_start = pos;
      e.size = text.size() - pos;
      if (!Quarantine::IsId(e.id)) return std::nullopt;
      return e;
    }
    size_t colon = line.find(": ");
    if (colon == std::string_view::npos) return std::nullopt;
    std::string_view k = line.substr(0, colon), v = line.substr(colon + 2);
    unsigned long long t = 0;
    if (k == "id") e.id = v;
    else if (k == "time" && ParseUnsigned(v, &t)) e.time = int64_t(t);
    else if (k == "reason") e.reason = v;
    else if (k == "client") e.client = v;
    else if (k == "helo") e.helo = v;
    else if (k == "sender") e.sender = v;
    else if (k == "recipient") e.recipients.emplace_back(v);
  }
  return std::nullopt;
}

Quarantine::Quarantine(std::string queue_dir, QuarantineLimits limits)
    : dir_(std::move(queue_dir) + "/quarantine"), limits_(limits) {}

bool Quarantine::IsId(std::string_view id) {
  if (id.size() != 9 || id[0] != 'Q') return false;
  return std::all_of(id.begin() + 1, id.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

Result<std::string> Quarantine::Save(QuarantineEntry e, std::string_view content) {
  if (limits_.size_limit == 0) return Err("quarantine_size_limit is 0");
  if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) return Err("mkdir " + dir_ + ": " + std::strerror(errno));
  if (e.time == 0) e.time = std::time(nullptr);
  std::string file;
  for (int tries = 0; tries < 10; ++tries) {
    e.id = fmt::format("Q{:08x}", RandomLow32());
    struct stat st;
    if (::stat(Path(e.id).c_str(), &st) != 0) break;
  }
  file = FormatQuarantineHeader(e);
  file.append(content);
  if (file.size() > limits_.size_limit)
    return Err(fmt::format("{} bytes are more than quarantine_size_limit ({})", file.size(), limits_.size_limit));
  if (auto r = MakeRoom(file.size(), e.time); !r) return Err(r.error());
  if (auto r = WriteWhole(dir_, e.id, file); !r) return Err(r.error());
  return e.id;
}

// Removes expired entries, then the oldest until `size` more bytes fit.
Result<void> Quarantine::MakeRoom(uint64_t size, int64_t now) {
  auto all = List(now);
  if (!all) return Err(all.error());
  uint64_t total = 0;
  for (const auto& e : *all) total += e.size + FormatQuarantineHeader(e).size();
  for (const auto& e : *all) {
    if (total + size <= limits_.size_limit) break;
    total -= std::min(total, e.size + FormatQuarantineHeader(e).size());
    (void)Remove(e.id);
  }
  return {};
}

Result<std::vector<QuarantineEntry>> Quarantine::List(int64_t now) {
  std::vector<QuarantineEntry> out;
  DIR* d = ::opendir(dir_.c_str());
  if (!d) {
    if (errno == ENOENT) return out;
    return Err("opendir " + dir_ + ": " + std::strerror(errno));
  }
  while (dirent* de = ::readdir(d)) {
    if (!IsId(de->d_name)) continue;
    std::ifstream in(Path(de->d_name), std::ios::binary);
    std::string head(kMaxHeader, '\0');
    in.read(head.data(), std::streamsize(head.size()));
    head.resize(size_t(in.gcount()));
    size_t start = 0;
    auto e = ParseQuarantineHeader(head, &start);
    if (!e || e->id != de->d_name) continue;
    struct stat st;
    if (::stat(Path(e->id).c_str(), &st) == 0) {
      e->size = uint64_t(st.st_size) - start;
      e->stored_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    }
    if (limits_.expire > 0 && e->time + limits_.expire <= now) {
      ::unlink(Path(e->id).c_str());
      continue;
    }
    out.push_back(std::move(*e));
  }
  ::closedir(d);
  // Oldest first: by refusal time, then by when the file was written.
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.time != b.time ? a.time < b.time : a.stored_ns < b.stored_ns;
  });
  return out;
}

Result<std::pair<QuarantineEntry, std::string>> Quarantine::Read(std::string_view id) const {
  if (!IsId(id)) return Err(std::string(id) + ": not a quarantine id");
  std::ifstream in(Path(id), std::ios::binary);
  if (!in) return Err(std::string(id) + ": no such message in the quarantine");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string data = ss.str();
  size_t start = 0;
  auto e = ParseQuarantineHeader(data, &start);
  if (!e) return Err(std::string(id) + ": malformed quarantine file");
  return std::pair{std::move(*e), data.substr(start)};
}

Result<void> Quarantine::Remove(std::string_view id) {
  if (!IsId(id)) return Err(std::string(id) + ": not a quarantine id");
  if (::unlink(Path(id).c_str()) != 0)
    return Err(std::string(id) + (errno == ENOENT ? ": no such message in the quarantine" : ": " + std::string(std::strerror(errno))));
  return {};
}

}  // namespace postern::queue
