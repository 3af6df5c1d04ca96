// tests/system/qtool.cc — a test-only helper for the qmgr tests (never
// installed): enqueue messages straight into an instance's queue and poke
// qmgr as smtpd does, list envelopes with their state, hold a message.
//   qtool CONFIG_DIR inject [-f sender] [-n count] [-s size] [-a seconds_ago] [--no-trigger] rcpt...
//   qtool CONFIG_DIR list          one line per envelope: id state attempts next_attempt rcpt | error
//   qtool CONFIG_DIR hold MSGID
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "config/maincf.h"
#include "log/log.h"
#include "queue/queue.h"

using namespace postern;

namespace {

void Trigger(const std::string& qdir) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::string path = qdir + "/public/qmgr";
  std::snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0) (void)!::write(fd, "I", 1);
  ::close(fd);
}

int Inject(queue::Queue& q, const std::string& qdir, std::vector<std::string> args) {
  std::string sender = "sender@example.org";
  long count = 1, size = 0, age = 0;
  bool trigger = true;
  std::vector<std::string> rcpts;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "-f" && i + 1 < args.size()) sender = args[++i];
    else if (args[i] == "-n" && i + 1 < args.size()) count = std::stol(args[++i]);
    else if (args[i] == "-s" && i + 1 < args.size()) size = std::stol(args[++i]);
    else if (args[i] == "-a" && i + 1 < args.size()) age = std::stol(args[++i]);
    else if (args[i] == "--no-trigger") trigger = false;
    else rcpts.push_back(args[i]);
  }
  if (sender == "<>") sender.clear();
  for (long n = 0; n < count; ++n) {
    queue::MessageRecord rec;
    rec.sender = sender;
    rec.protocol = "ESMTP";
    if (age > 0) rec.arrival = std::time(nullptr) - age;  // a message that waited this long
    auto w = q.Begin(rec);
    if (!w.ok()) return std::fprintf(stderr, "qtool: %s\n", w.status().message.c_str()), 1;
    // The id in a header lets a sink tell which queued message it received.
    std::string body = "Subject: test " + std::to_string(n) + "\r\nX-Qtool-Id: " + queue::FormatMsgId((*w)->id()) +
                       "\r\n\r\nmessage " + std::to_string(n) + "\r\n";
    while (static_cast<long>(body.size()) < size) body += "padding padding padding padding padding padding\r\n";
    if (auto s = (*w)->Append(body); !s.ok()) return std::fprintf(stderr, "qtool: %s\n", s.message.c_str()), 1;
    for (const auto& r : rcpts) (void)(*w)->AddRecipient({r, "", 0});
    auto id = q.Commit(std::move(*w));
    if (!id.ok()) return std::fprintf(stderr, "qtool: %s\n", id.status().message.c_str()), 1;
    std::printf("%s\n", queue::FormatMsgId(*id).c_str());
  }
  std::fflush(stdout);
  if (trigger) Trigger(qdir);
  return 0;
}

int List(queue::Queue& q) {
  queue::MsgId after = 0;
  for (;;) {
    auto page = q.ListMessages(after, 500);
    if (!page.ok() || page->empty()) return 0;
    for (const auto& m : *page) {
      after = m.id;
      auto envs = q.Envelopes(m.id);
      if (!envs.ok()) continue;
      for (const auto& e : *envs) {
        std::printf("%s %s %u %lld %s | %s\n", queue::FormatEnvId(e.id).c_str(), queue::StateName(e.state),
                    e.attempts, static_cast<long long>(e.next_attempt), e.recipient.c_str(), e.last_error.c_str());
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  log::InitCommand("qtool");
  if (argc < 3) return std::fprintf(stderr, "usage: qtool CONFIG_DIR inject|list|hold ...\n"), 1;
  auto cfg = config::Config::Load(argv[1]);
  if (!cfg) return std::fprintf(stderr, "qtool: %s\n", cfg.error().c_str()), 1;
  std::string qdir = cfg->Str("queue_directory");
  auto opts = queue::OptionsFromConfig(*cfg);
  if (!opts.ok()) return std::fprintf(stderr, "qtool: %s\n", opts.status().message.c_str()), 1;
  auto q = queue::Queue::Open(qdir, *opts);
  if (!q.ok()) return std::fprintf(stderr, "qtool: %s\n", q.status().message.c_str()), 1;
  std::string cmd = argv[2];
  std::vector<std::string> rest(argv + 3, argv + argc);
  if (cmd == "inject") return Inject(**q, qdir, rest);
  if (cmd == "list") return List(**q);
  if (cmd == "hold" && rest.size() == 1) {
    auto id = queue::ParseAnyId(rest[0]);
    if (!id) return std::fprintf(stderr, "qtool: bad id\n"), 1;
    auto s = (*q)->Hold(*id);
    return s.ok() ? 0 : (std::fprintf(stderr, "qtool: %s\n", s.message.c_str()), 1);
  }
  return std::fprintf(stderr, "qtool: unknown command %s\n", cmd.c_str()), 1;
}
