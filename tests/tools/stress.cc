// tests/tools/stress.cc — qtool's subcommands for the crash, concurrency and
// storage tests: flood the queue printing each id once durable, verify a queue
// against printed ids, scan while others write, remove. A message's content
// and recipients are a function of its id, so a verifier can check them.
#include <unistd.h>
#include <uv.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

#include "postern/queue/committer.h"
#include "tests/tools/qtool.h"

namespace postern::qtool {

namespace {

std::string Body(queue::MsgId id, size_t size) {
  if (size == 0) size = 200 + (id % 40) * 1000;  // 200 B .. 39 KiB
  std::string line = "message " + queue::FormatMsgId(id) + " line\r\n";
  std::string out;
  out.reserve(size);
  while (out.size() < size) out += line;
  out.resize(size);
  return out;
}

std::vector<std::string> Rcpts(queue::MsgId id) {
  std::vector<std::string> r;
  for (unsigned i = 0; i <= id % 3; ++i) r.push_back("r" + std::to_string(i) + "@" + queue::FormatMsgId(id) + ".test");
  return r;
}

// Unbuffered: a test may kill the process at any moment after a line.
void Print(const std::string& line) {
  std::string l = line + "\n";
  [[maybe_unused]] ssize_t n = ::write(1, l.data(), l.size());
}

// "--async N" and "--size N" before the positional arguments.
struct StressArgs {
  int async = 0;
  size_t size = 0;  // 0: varies with the id
  std::vector<std::string> rest;
};

StressArgs ParseStress(const std::vector<std::string>& args) {
  StressArgs s;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--async" && i + 1 < args.size()) s.async = std::atoi(args[++i].c_str());
    else if (args[i] == "--size" && i + 1 < args.size()) s.size = std::strtoull(args[++i].c_str(), nullptr, 10);
    else s.rest.push_back(args[i]);
  }
  return s;
}

// Begin + body + recipients; nullptr (with *code set) when the queue refuses.
std::unique_ptr<queue::MessageWriter> Prepare(queue::Queue& q, size_t size, int* code) {
  queue::MessageRecord rec;
  rec.sender = "sender@example.org";
  rec.protocol = "ESMTP";
  auto w = q.Begin(rec);
  if (!w.ok()) {
    *code = Fail("begin: " + w.status().message, ExitCode(w.status()));
    return nullptr;
  }
  std::string body = Body((*w)->id(), size);
  for (size_t off = 0; off < body.size(); off += 4096) {
    if (!(*w)->Append(std::string_view(body).substr(off, 4096)).ok()) break;  // the commit reports it
  }
  for (auto& r : Rcpts((*w)->id())) (void)(*w)->AddRecipient({r, "rfc822;" + r, queue::kNotifyFailure});
  return std::move(*w);
}

int FloodSync(queue::Queue& q, long count, size_t size) {
  int code = 0;
  for (long i = 0; count == 0 || i < count; ++i) {
    auto w = Prepare(q, size, &code);
    if (!w) break;
    auto id = q.Commit(std::move(w));
    if (!id.ok()) return Fail("commit: " + id.status().message, ExitCode(id.status()));
    Print(queue::FormatMsgId(*id));
  }
  return code;
}

// `sessions` writers on one loop, each starting its next message when told its last is durable.
int FloodAsync(queue::Queue& q, long count, size_t size, int sessions) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  long started = 0;
  int code = 0;
  {
    queue::AsyncCommitter committer(&q, &loop);
    std::function<void()> next = [&] {
      if (code != 0 || (count != 0 && started >= count)) return;
      auto w = Prepare(q, size, &code);
      if (!w) return;
      ++started;
      committer.Submit(std::move(w), [&](queue::Outcome<queue::MsgId> r) {
        if (r.ok()) Print(queue::FormatMsgId(*r));
        else code = Fail("commit: " + r.status().message, ExitCode(r.status()));
        next();
      });
    };
    for (int i = 0; i < sessions; ++i) next();
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return code;
}

// Checks one message completely; returns a problem or "".
std::string CheckMessage(queue::Queue& q, queue::MsgId id, size_t size) {
  auto m = q.GetMessage(id);
  if (!m.ok()) return "record: " + m.status().message;
  auto envs = q.Envelopes(id);
  if (!envs.ok()) return "envelopes: " + envs.status().message;
  std::set<std::string> want, got;
  for (auto& r : Rcpts(id)) want.insert(r);
  for (auto& e : *envs) {
    if (queue::MsgOf(e.id) != id) return "envelope id " + queue::FormatEnvId(e.id) + " not of its message";
    got.insert(e.recipient);
  }
  if (want != got || envs->size() != want.size()) return "recipients differ";
  auto body = ReadBody(q, id);
  if (!body.ok()) return "body: " + body.status().message;
  if (body->size() != m->size || *body != Body(id, size)) return "body content differs";
  return "";
}

// Problems with the queue's totals: bodies, counters, reader slots.
void CheckTotals(queue::Queue& q, const std::string& dir, uint64_t messages, uint64_t envelopes, uint64_t bytes,
                 const std::function<void(const std::string&)>& problem, uint64_t* files, uint64_t* in_db) {
  for (auto& e : std::filesystem::recursive_directory_iterator(dir + "/data")) *files += e.is_regular_file();
  queue::Counters c = q.GetCounters();
  uint64_t by_state = c.incoming + c.active + c.deferred + c.hold + c.corrupt;
  *in_db = q.InlineBodyCount();
  if (*files + *in_db != messages) {
    problem("body files " + std::to_string(*files) + " + inline bodies " + std::to_string(*in_db) +
            " != messages " + std::to_string(messages));
  }
  if (c.messages != messages) problem("messages counter " + std::to_string(c.messages) + " != " + std::to_string(messages));
  if (by_state != envelopes) problem("state counters " + std::to_string(by_state) + " != envelopes " + std::to_string(envelopes));
  if (c.bytes != bytes) problem("bytes counter differs");
  if (c.corrupt != 0) problem("corrupt envelopes: " + std::to_string(c.corrupt));
  if (int r = q.ReaderCount(); r != 0) problem("reader slots in use: " + std::to_string(r));
}

}  // namespace

int Flood(Context& c) {
  StressArgs s = ParseStress(c.args);
  long count = s.rest.empty() ? 0 : std::atol(s.rest[0].c_str());
  return s.async == 0 ? FloodSync(*c.queue, count, s.size) : FloodAsync(*c.queue, count, s.size, s.async);
}

int Verify(Context& c) {
  StressArgs s = ParseStress(c.args);
  std::set<queue::MsgId> printed;
  if (!s.rest.empty()) {
    std::ifstream in(s.rest[0]);
    for (std::string line; std::getline(in, line);) {
      if (auto id = queue::ParseMsgId(line)) printed.insert(*id);
    }
  }
  int problems = 0;
  auto problem = [&](const std::string& what) {
    if (++problems <= 20) Fail(what);
  };
  for (queue::MsgId id : printed) {
    if (auto p = CheckMessage(*c.queue, id, s.size); !p.empty()) problem(queue::FormatMsgId(id) + ": " + p);
  }
  // Every message in the queue, printed or not, must be whole.
  uint64_t messages = 0, envelopes = 0, bytes = 0;
  for (queue::MsgId after = 0;;) {
    auto page = c.queue->ListMessages(after, 1000);
    if (!page.ok()) return Fail(page.status().message);
    if (page->empty()) break;
    for (auto& m : *page) {
      after = m.id;
      ++messages;
      bytes += m.size;
      envelopes += m.nrcpt;
      if (auto p = CheckMessage(*c.queue, m.id, s.size); !p.empty()) problem(queue::FormatMsgId(m.id) + ": " + p);
    }
  }
  uint64_t files = 0, in_db = 0;
  CheckTotals(*c.queue, c.queue_dir, messages, envelopes, bytes, problem, &files, &in_db);
  std::printf("printed=%zu messages=%llu envelopes=%llu files=%llu inline=%llu problems=%d\n", printed.size(),
              static_cast<unsigned long long>(messages), static_cast<unsigned long long>(envelopes),
              static_cast<unsigned long long>(files), static_cast<unsigned long long>(in_db), problems);
  return problems ? kFailed : 0;
}

// Iterates the whole queue again and again while writers run; every page
// must decode and every listed envelope be in the state asked for.
int Scan(Context& c) {
  double seconds = c.args.empty() ? 5 : std::atof(c.args[0].c_str());
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  long passes = 0, seen = 0;
  while (std::chrono::steady_clock::now() < end) {
    for (queue::EnvId after = 0;;) {
      auto page = c.queue->ListByState(queue::State::kIncoming, after, 500);
      if (!page.ok()) return Fail("scan: " + page.status().message);
      if (page->empty()) break;
      for (auto& e : *page) {
        after = e.id;
        ++seen;
        if (e.state != queue::State::kIncoming) return Fail("bad state");
      }
    }
    (void)c.queue->GetCounters();
    ++passes;
  }
  std::printf("passes=%ld envelopes=%ld\n", passes, seen);
  return 0;
}

// Removes the first N messages (0: none), printing "-MSGID" for each.
int Remove(Context& c) {
  long n = c.args.empty() ? 1 : std::atol(c.args[0].c_str());
  auto page = c.queue->ListMessages(0, static_cast<size_t>(n));
  if (!page.ok()) return Fail(page.status().message);
  for (auto& m : *page) {
    if (auto s = c.queue->RemoveMessage(m.id); !s.ok()) return Fail(s.message);
    Print("-" + queue::FormatMsgId(m.id));
  }
  return 0;
}

}  // namespace postern::qtool
