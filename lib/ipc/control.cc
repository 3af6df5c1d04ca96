// ipc/control.cc — control frames, runtime state, the handler table and the
// streaming Reply; see control.h for the design.
#include "postern/ipc/control.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "postern/event/event.h"
#include "postern/ipc/frame.h"
#include "postern/util/strings.h"

namespace postern::ipc::control {

namespace {

// Output beyond this many unsent bytes stops a stream until the peer reads.
constexpr size_t kHighWater = 256u << 10;

void PutString(std::string_view s, std::string* out) {
  PutU32(uint32_t(s.size()), out);
  out->append(s);
}

bool GetString(std::string_view* in, size_t limit, std::string* s) {
  uint32_t n = 0;
  if (!GetU32(in, &n) || n > limit || in->size() < n) return false;
  s->assign(in->substr(0, n));
  in->remove_prefix(n);
  return true;
}

}  // namespace

Kind KindOf(std::string_view p) {
  if (p.empty()) return Kind::kBad;
  switch (p[0]) {
    case 'R': case 'T': case 'E': case 'C': case 'P': case 'U': case 'S': return Kind(p[0]);
    default: return Kind::kBad;
  }
}

std::string EncodeRequest(const std::vector<std::string>& words, uint32_t id) {
  std::string p(1, char(Kind::kRequest));
  PutU32(id, &p);
  PutU32(uint32_t(words.size()), &p);
  for (const auto& w : words) PutString(w, &p);
  return p;
}

std::optional<uint32_t> IdOf(std::string_view p) {
  Kind k = KindOf(p);
  if (k == Kind::kBad || k == Kind::kState) return std::nullopt;
  p.remove_prefix(1);
  uint32_t id = 0;
  if (!GetU32(&p, &id)) return std::nullopt;
  return id;
}

std::optional<std::vector<std::string>> DecodeRequest(std::string_view p) {
  if (KindOf(p) != Kind::kRequest || p.size() < 5) return std::nullopt;
  p.remove_prefix(5);
  uint32_t n = 0;
  if (!GetU32(&p, &n) || n == 0 || n > kMaxWords) return std::nullopt;
  std::vector<std::string> words(n);
  for (auto& w : words)
    if (!GetString(&p, kMaxWordLen, &w)) return std::nullopt;
  if (!p.empty()) return std::nullopt;
  return words;
}

std::string EncodeText(std::string_view lines, uint32_t id) {
  std::string p(1, char(Kind::kText));
  PutU32(id, &p);
  p.append(lines);
  return p;
}

std::string_view DecodeText(std::string_view p) { return p.size() < 5 ? std::string_view() : p.substr(5); }

std::string EncodeEnd(const End& e, uint32_t id) {
  std::string p(1, char(Kind::kEnd));
  PutU32(id, &p);
  p.push_back(e.ok ? 0 : 1);
  p.append(e.error);
  return p;
}

std::optional<End> DecodeEnd(std::string_view p) {
  if (KindOf(p) != Kind::kEnd || p.size() < 6 || uint8_t(p[5]) > 1) return std::nullopt;
  return End{p[5] == 0, std::string(p.substr(6))};
}

std::string EncodeCancel(uint32_t id) {
  std::string p(1, char(Kind::kCancel));
  PutU32(id, &p);
  return p;
}

std::string EncodePause(uint32_t id, bool pause) {
  std::string p(1, char(pause ? Kind::kPause : Kind::kUnpause));
  PutU32(id, &p);
  return p;
}

// Lines of "key value"; sets hold one line per member. Text, so an operator
// can read the file, and a field added later is skipped by older readers.
std::string RuntimeState::Encode() const {
  std::string s;
  auto flag = [&](const char* k, bool v) {
    if (v) s += std::string(k) + "\n";
  };
  flag("pause_smtp", pause_smtp);
  flag("pause_mta", pause_mta);
  flag("pause_mda", pause_mda);
  flag("verbose", verbose);
  for (const auto& t : traces) s += "trace " + t + "\n";
  for (const auto& p : profiles) s += "profile " + p + "\n";
  for (const auto& [k, v] : options) s += "option " + k + "=" + v + "\n";
  return s;
}

std::optional<RuntimeState> RuntimeState::Decode(std::string_view s) {
  RuntimeState st;
  while (!s.empty()) {
    size_t nl = s.find('\n');
    if (nl == s.npos) return std::nullopt;  // every line ends in '\n': no torn file
    std::string_view line = s.substr(0, nl);
    s.remove_prefix(nl + 1);
    size_t sp = line.find(' ');
    std::string_view key = line.substr(0, sp);
    std::string_view val = sp == line.npos ? std::string_view() : line.substr(sp + 1);
    if (key == "pause_smtp") st.pause_smtp = true;
    else if (key == "pause_mta") st.pause_mta = true;
    else if (key == "pause_mda") st.pause_mda = true;
    else if (key == "verbose") st.verbose = true;
    else if (key == "trace" && !val.empty()) st.traces.emplace(val);
    else if (key == "profile" && !val.empty()) st.profiles.emplace(val);
    else if (key == "option") {
      size_t eq = val.find('=');
      if (eq == 0 || eq == val.npos) return std::nullopt;
      st.options[std::string(val.substr(0, eq))] = std::string(val.substr(eq + 1));
    }
  }
  return st;
}

std::string StatePath(const config::Config& cfg) {
  return cfg.Str("queue_directory") + "/" + cfg.Str("process_id_directory") + "/runtime";
}

Result<RuntimeState> LoadState(const std::string& path) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return RuntimeState{};
    return Err(path + ": " + std::strerror(errno));
  }
  std::string data;
  char buf[8192];
  ssize_t n;
  while ((n = read(fd.get(), buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) data.append(buf, size_t(n));
    if (data.size() > kFrameMax) return Err(path + ": too large");
  }
  if (n < 0) return Err(path + ": " + std::strerror(errno));
  auto st = RuntimeState::Decode(data);
  if (!st) return Err(path + ": malformed");
  return *st;
}

Result<void> SaveState(const std::string& path, const RuntimeState& s) {
  std::string tmp = path + ".tmp";
  Fd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return Err(tmp + ": " + std::strerror(errno));
  std::string data = s.Encode();
  if (write(fd.get(), data.data(), data.size()) != ssize_t(data.size())) return Err(tmp + ": " + std::strerror(errno));
  fd.Reset();
  if (rename(tmp.c_str(), path.c_str()) != 0) return Err(path + ": " + std::strerror(errno));
  return {};
}

Reply::Reply(std::function<void(std::string)> write, std::function<size_t()> backlog, uint32_t id)
    : write_(std::move(write)), backlog_(std::move(backlog)), id_(id) {}

void Reply::KeepAlive() {
  if (done_ || cancelled_) return;
  if (!pending_.empty()) return Flush();
  std::string frame;
  AppendFrame(EncodeText("", id_), &frame);
  write_(std::move(frame));
}

void Reply::Line(std::string_view line) {
  if (done_) return;
  pending_.append(line);
  pending_.push_back('\n');
  if (pending_.size() >= kTextChunk) Flush();
}

void Reply::Text(std::string_view text) {
  if (done_) return;
  pending_.append(text);
  if (pending_.size() >= kTextChunk) Flush();
}

void Reply::Flush() {
  if (pending_.empty() || cancelled_) {
    pending_.clear();
    return;
  }
  std::string frame;
  AppendFrame(EncodeText(pending_, id_), &frame);
  pending_.clear();
  write_(std::move(frame));
}

void Reply::Stream(std::function<bool(Reply&)> more) {
  more_ = std::move(more);
  Pump();
}

void Reply::Pump() {
  if (pumping_) return;  // a write completing inside more() must not recurse
  pumping_ = true;
  while (more_ && !done_ && !cancelled_ && !paused_ && backlog_() < kHighWater) {
    if (!more_(*this)) {
      more_ = nullptr;
      Finish();
    }
    Flush();
  }
  if (cancelled_ && !done_) {
    more_ = nullptr;
    Finish();
  }
  pumping_ = false;
  if (drain_ && !congested()) {
    auto fn = std::move(drain_);
    drain_ = nullptr;
    fn();
  }
}

bool Reply::congested() const { return paused_ || backlog_() >= kHighWater; }

void Reply::SetPaused(bool paused) {
  paused_ = paused;
  if (!paused_) Pump();
}

void Reply::Finish() { Conclude({}); }

void Reply::Fail(std::string_view error) { Conclude({false, std::string(error)}); }

void Reply::Conclude(const End& end) {
  if (done_) return;
  Flush();
  done_ = true;
  more_ = nullptr;
  drain_ = nullptr;
  on_cancel_ = nullptr;  // it may hold the relay that holds this reply
  std::string frame;
  AppendFrame(EncodeEnd(end, id_), &frame);
  write_(std::move(frame));
}

void Reply::Cancel() {
  if (cancelled_) return;
  cancelled_ = true;
  if (on_cancel_) {
    auto fn = std::move(on_cancel_);
    on_cancel_ = nullptr;
    fn();
  }
  Pump();
}

void Table::Add(std::vector<std::string> words, Handler h) { entries_[std::move(words)] = std::move(h); }

const Handler* Table::Find(const std::vector<std::string>& words, size_t* consumed) const {
  const Handler* best = nullptr;
  size_t best_len = 0;
  for (const auto& [key, h] : entries_) {
    if (key.size() > words.size() || key.size() <= best_len) continue;
    if (std::equal(key.begin(), key.end(), words.begin())) {
      best = &h;
      best_len = key.size();
    }
  }
  *consumed = best_len;
  return best;
}

void Table::Dispatch(std::vector<std::string> words, std::shared_ptr<Reply> reply) const {
  size_t n = 0;
  const Handler* h = Find(words, &n);
  if (!h) {
    std::string name;
    for (const auto& w : words) name += (name.empty() ? "" : " ") + w;
    return reply->Fail("unknown command: " + name);
  }
  Request req{std::move(words), n};
  (*h)(req, std::move(reply));
}

Table& ProcessTable() {
  static Table table;
  return table;
}

Result<IdArg> ParseIdArg(std::string_view s, bool allow_all) {
  IdArg a;
  if (allow_all && s == "all") {
    a.all = true;
    return a;
  }
  if (s.size() != 8 && s.size() != 16)
    return Err("invalid id: " + std::string(s.substr(0, 40)) + " (a message id is 8 hex digits, an envelope id 16" +
               (allow_all ? ", or all)" : ")"));
  for (char c : s) {
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return Err("invalid id: " + std::string(s) + " (not hexadecimal)");
    a.id = a.id << 4 | uint64_t(d);
  }
  a.is_envelope = s.size() == 16;
  return a;
}

}  // namespace postern::ipc::control
