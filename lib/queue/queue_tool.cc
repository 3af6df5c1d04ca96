// queue/queue_tool.cc — a test helper (never installed) that drives the queue
// from separate processes: enqueue in a loop printing each id once durable,
// verify a queue against printed ids, scan while others write, remove.
// Message content is a function of the message id, so a verifier can check it.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "log/log.h"
#include "queue/committer.h"
#include "queue/queue.h"

namespace q = postern::queue;

namespace {

struct Args {
  std::string cmd, dir;
  std::vector<std::string> rest;
  uint64_t map_limit = 0, min_free = 0, initial_map = 0;
  int async = 0;
  size_t size = 0;  // 0: varies with the id
  bool recover = false;
};

std::string Body(q::MsgId id, size_t size) {
  if (size == 0) size = 200 + (id % 40) * 1000;  // 200 B .. 39 KiB
  std::string line = "message " + q::FormatMsgId(id) + " line\r\n";
  std::string out;
  out.reserve(size);
  while (out.size() < size) out += line;
  out.resize(size);
  return out;
}

std::vector<std::string> Rcpts(q::MsgId id) {
  std::vector<std::string> r;
  for (unsigned i = 0; i <= id % 3; ++i) r.push_back("r" + std::to_string(i) + "@" + q::FormatMsgId(id) + ".test");
  return r;
}

void Print(const std::string& line) {
  std::string l = line + "\n";
  ssize_t n = ::write(1, l.data(), l.size());
  (void)n;
}

q::Options MakeOptions(const Args& a) {
  q::Options o;
  if (a.map_limit) o.map_size_limit = a.map_limit;
  if (a.initial_map) o.initial_map_size = a.initial_map;
  o.min_free = a.min_free;
  o.recover = a.recover;
  return o;
}

std::unique_ptr<q::Queue> OpenOrDie(const Args& a) {
  auto qu = q::Queue::Open(a.dir, MakeOptions(a));
  if (!qu.ok()) {
    std::fprintf(stderr, "queue_tool: open %s: %s\n", a.dir.c_str(), qu.status().message.c_str());
    std::exit(2);
  }
  return std::move(*qu);
}

// Begin + body + recipients; nullptr (after printing FULL) on insufficient storage.
std::unique_ptr<q::MessageWriter> Prepare(q::Queue* qu, const Args& a, int* exit_code) {
  q::MessageRecord rec;
  rec.sender = "sender@example.org";
  rec.protocol = "ESMTP";
  auto w = qu->Begin(rec);
  if (!w.ok()) {
    *exit_code = w.code() == q::Code::kInsufficientStorage ? 3 : 1;
    std::fprintf(stderr, "queue_tool: begin: %s\n", w.status().message.c_str());
    return nullptr;
  }
  std::string body = Body((*w)->id(), a.size);
  for (size_t off = 0; off < body.size(); off += 4096) {
    if (auto s = (*w)->Append(std::string_view(body).substr(off, 4096)); !s.ok()) break;  // commit reports it
  }
  for (auto& r : Rcpts((*w)->id())) (void)(*w)->AddRecipient({r, "rfc822;" + r, q::kNotifyFailure});
  return std::move(*w);
}

int Enqueue(const Args& a) {
  long count = a.rest.empty() ? 0 : std::atol(a.rest[0].c_str());
  auto qu = OpenOrDie(a);
  int code = 0;
  if (a.async == 0) {
    for (long i = 0; count == 0 || i < count; ++i) {
      auto w = Prepare(qu.get(), a, &code);
      if (!w) break;
      auto id = qu->Commit(std::move(w));
      if (!id.ok()) {
        std::fprintf(stderr, "queue_tool: commit: %s\n", id.status().message.c_str());
        code = id.code() == q::Code::kInsufficientStorage ? 3 : 1;
        break;
      }
      Print(q::FormatMsgId(*id));
    }
    return code;
  }
  // `async` sessions on one loop, each starting its next message when told its last is durable.
  uv_loop_t loop;
  uv_loop_init(&loop);
  long started = 0;
  {
    q::AsyncCommitter committer(qu.get(), &loop);
    std::function<void()> next = [&] {
      if (code != 0 || (count != 0 && started >= count)) return;
      auto w = Prepare(qu.get(), a, &code);
      if (!w) return;
      ++started;
      committer.Submit(std::move(w), [&](q::Outcome<q::MsgId> r) {
        if (r.ok()) {
          Print(q::FormatMsgId(*r));
        } else {
          std::fprintf(stderr, "queue_tool: commit: %s\n", r.status().message.c_str());
          code = r.code() == q::Code::kInsufficientStorage ? 3 : 1;
        }
        next();
      });
    };
    for (int i = 0; i < a.async; ++i) next();
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return code;
}

// Checks one message completely; returns a problem or "".
std::string CheckMessage(q::Queue* qu, q::MsgId id, size_t size) {
  auto m = qu->GetMessage(id);
  if (!m.ok()) return "record: " + m.status().message;
  auto envs = qu->Envelopes(id);
  if (!envs.ok()) return "envelopes: " + envs.status().message;
  std::set<std::string> want, got;
  for (auto& r : Rcpts(id)) want.insert(r);
  for (auto& e : *envs) {
    if (q::MsgOf(e.id) != id) return "envelope id " + q::FormatEnvId(e.id) + " not of its message";
    got.insert(e.recipient);
  }
  if (want != got || envs->size() != want.size()) return "recipients differ";
  auto body = qu->OpenBody(id);
  if (!body.ok()) return "body: " + body.status().message;
  std::string text(body->size(), '\0');
  size_t off = 0;
  while (off < text.size()) {
    auto n = body->Read(text.data() + off, text.size() - off);
    if (!n.ok() || *n == 0) break;
    off += *n;
  }
  if (off != m->size || text != Body(id, size)) return "body content differs";
  return "";
}

int Verify(const Args& a) {
  auto qu = OpenOrDie(a);  // with --recover, as qmgr would after a crash
  std::set<q::MsgId> printed;
  if (!a.rest.empty()) {
    std::ifstream in(a.rest[0]);
    std::string line;
    while (std::getline(in, line)) {
      if (auto id = q::ParseMsgId(line)) printed.insert(*id);
    }
  }
  int problems = 0;
  auto problem = [&](const std::string& what) {
    if (++problems <= 20) std::fprintf(stderr, "queue_tool: %s\n", what.c_str());
  };
  for (q::MsgId id : printed) {
    if (auto p = CheckMessage(qu.get(), id, a.size); !p.empty()) problem(q::FormatMsgId(id) + ": " + p);
  }
  // Every message in the queue, printed or not, must be whole.
  uint64_t messages = 0, envelopes = 0, bytes = 0;
  for (q::MsgId after = 0;;) {
    auto page = qu->ListMessages(after, 1000);
    if (!page.ok()) return problem(page.status().message), 1;
    if (page->empty()) break;
    for (auto& m : *page) {
      after = m.id;
      ++messages;
      bytes += m.size;
      envelopes += m.nrcpt;
      if (auto p = CheckMessage(qu.get(), m.id, a.size); !p.empty()) problem(q::FormatMsgId(m.id) + ": " + p);
    }
  }
  uint64_t files = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(a.dir + "/data")) files += e.is_regular_file();
  q::Counters c = qu->GetCounters();
  uint64_t by_state = c.incoming + c.active + c.deferred + c.hold + c.corrupt;
  uint64_t in_db = qu->InlineBodyCount();
  if (files + in_db != messages) {
    problem("body files " + std::to_string(files) + " + inline bodies " + std::to_string(in_db) + " != messages " +
            std::to_string(messages));
  }
  if (c.messages != messages) problem("messages counter " + std::to_string(c.messages) + " != " + std::to_string(messages));
  if (by_state != envelopes) problem("state counters " + std::to_string(by_state) + " != envelopes " + std::to_string(envelopes));
  if (c.bytes != bytes) problem("bytes counter differs");
  if (c.corrupt != 0) problem("corrupt envelopes: " + std::to_string(c.corrupt));
  if (int r = qu->ReaderCount(); r != 0) problem("reader slots in use: " + std::to_string(r));
  std::printf("printed=%zu messages=%llu envelopes=%llu files=%llu inline=%llu problems=%d\n", printed.size(),
              static_cast<unsigned long long>(messages), static_cast<unsigned long long>(envelopes),
              static_cast<unsigned long long>(files), static_cast<unsigned long long>(in_db), problems);
  return problems ? 1 : 0;
}

// Iterates the whole queue again and again while writers run; every page
// must decode and every listed envelope belong to a listed message.
int Scan(const Args& a) {
  double seconds = a.rest.empty() ? 5 : std::atof(a.rest[0].c_str());
  auto qu = OpenOrDie(a);
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  long passes = 0, seen = 0;
  while (std::chrono::steady_clock::now() < end) {
    for (q::EnvId after = 0;;) {
      auto page = qu->ListByState(q::State::kIncoming, after, 500);
      if (!page.ok()) return std::fprintf(stderr, "queue_tool: scan: %s\n", page.status().message.c_str()), 1;
      if (page->empty()) break;
      for (auto& e : *page) {
        after = e.id;
        ++seen;
        if (e.state != q::State::kIncoming) return std::fprintf(stderr, "queue_tool: bad state\n"), 1;
      }
    }
    (void)qu->GetCounters();
    ++passes;
  }
  std::printf("passes=%ld envelopes=%ld\n", passes, seen);
  return 0;
}

int Remove(const Args& a) {
  long n = a.rest.empty() ? 1 : std::atol(a.rest[0].c_str());
  auto qu = OpenOrDie(a);
  auto page = qu->ListMessages(0, static_cast<size_t>(n));
  if (!page.ok()) return 1;
  for (auto& m : *page) {
    if (!qu->RemoveMessage(m.id).ok()) return 1;
    Print("-" + q::FormatMsgId(m.id));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  postern::log::InitCommand("queue_tool");
  Args a;
  std::vector<std::string> pos;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    auto val = [&] { return i + 1 < argc ? std::strtoull(argv[++i], nullptr, 10) : 0ULL; };
    if (s == "--map-limit") a.map_limit = val();
    else if (s == "--initial-map") a.initial_map = val();
    else if (s == "--min-free") a.min_free = val();
    else if (s == "--async") a.async = static_cast<int>(val());
    else if (s == "--size") a.size = val();
    else if (s == "--recover") a.recover = true;
    else pos.push_back(s);
  }
  if (pos.size() < 2) {
    std::fprintf(stderr,
                 "usage: queue_tool [options] enqueue DIR [COUNT] | verify DIR [IDS] | scan DIR [SECONDS] | "
                 "remove DIR [N]\n");
    return 2;
  }
  a.cmd = pos[0];
  a.dir = pos[1];
  a.rest.assign(pos.begin() + 2, pos.end());
  if (a.cmd == "enqueue") return Enqueue(a);
  if (a.cmd == "verify") return Verify(a);
  if (a.cmd == "scan") return Scan(a);
  if (a.cmd == "remove") return Remove(a);
  std::fprintf(stderr, "queue_tool: unknown command %s\n", a.cmd.c_str());
  return 2;
}
