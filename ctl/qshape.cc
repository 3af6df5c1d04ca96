// ctl/qshape.cc — qshape(1): the queue's domain × age table (qshape.h) over
// the messages of the named queues (default incoming and active), by
// recipient domain or with -s by sender domain, read a page at a time.
// maildrop mail (sendmail's, while the system was down) is read from its files.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "ctl/frontends.h"
#include "ctl/qshape.h"
#include "postern/log/log.h"
#include "postern/maildrop/maildrop.h"
#include "postern/showq/showq.h"

namespace postern::ctl {

namespace {

using showq::QueueName;

[[noreturn]] void Usage() {
  log::Fatal("usage: qshape [ -s ] [ -p ] [ -m <min_subdomains> ] [ -l ] [ -b <bucket_count> ] [ -t <bucket_time> ] "
             "[ -w <terminal_width> ] [ -c <config_directory> ] [ <queue_name> ... ]");
}

int Number(const std::string& v) {
  char* end = nullptr;
  long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end || n < 0 || n > 100000) Usage();
  return int(n);
}

struct Shape {
  ShapeOptions opts;
  bool senders = false;
  std::string dash_c;
  std::vector<QueueName> queues = {QueueName::kIncoming, QueueName::kActive};
};

Shape Parse(int argc, char** argv) {
  auto parsed = ParseShortOptions(std::vector<std::string>(argv + 1, argv + argc), "bcmtw", "lps");
  if (!parsed) Usage();
  Shape s;
  for (const auto& o : parsed->opts) {
    switch (o.letter) {
      case 's': s.senders = true; break;
      case 'p': s.opts.parents = true; break;
      case 'l': s.opts.linear = true; break;
      case 'c': s.dash_c = o.value; break;
      // As qshape.pl: values out of range leave the default.
      case 'b': if (int n = Number(o.value); n > 0) s.opts.buckets = n; break;
      case 't': if (int n = Number(o.value); n > 0) s.opts.minutes = n; break;
      case 'm': if (int n = Number(o.value); n > 0) s.opts.min_subdomains = n; break;
      default: if (int n = Number(o.value); n > 80) s.opts.width = n; break;
    }
  }
  if (!parsed->operands.empty()) s.queues.clear();
  for (const auto& name : parsed->operands) {
    auto q = showq::ParseQueueName(name);
    if (!q) log::Fatal("invalid queue name: {} (incoming, active, deferred, hold, corrupt or maildrop)", name);
    s.queues.push_back(*q);
  }
  return s;
}

void AddMaildrop(const config::Config& cfg, const Shape& s, int64_t now, ShapeTable* table) {
  ForEachMaildropFile(cfg, [&](const std::string& name, const std::string& path, const struct stat&) {
    if (name.starts_with(maildrop::kTempPrefix) || name.starts_with(maildrop::kCorruptPrefix)) return;
    auto r = maildrop::Reader::Open(path);
    if (!r) return;  // picked up meanwhile
    const auto& env = r->envelope();
    if (s.senders) table->Add(env.sender, env.time, now);
    else for (const auto& rcpt : env.recipients) table->Add(rcpt, env.time, now);
  });
}

}  // namespace

int QshapeMain(int argc, char** argv) {
  log::InitCommand("qshape");
  Shape s = Parse(argc, argv);
  auto loaded = LoadFrontendConfig(s.dash_c);
  if (!loaded) log::Fatal("{}", loaded.error());
  ShapeTable table(s.opts);
  int64_t now = std::time(nullptr);
  auto wanted = [&s](QueueName q) { return std::find(s.queues.begin(), s.queues.end(), q) != s.queues.end(); };
  if (wanted(QueueName::kMaildrop)) AddMaildrop(loaded->cfg, s, now, &table);
  auto q = showq::OpenExisting(loaded->cfg);
  if (!q) log::Fatal("{}", q.error());
  if (*q) {
    auto st = showq::ForEachMessage(**q, [&](const queue::MessageRecord& m, const std::vector<queue::Envelope>& envs) {
      auto where = showq::QueueOf(envs);
      if (!where || !wanted(*where)) return true;
      if (s.senders) {
        table.Add(m.sender, m.arrival, now);
        return true;
      }
      for (const auto& e : envs)
        if (e.state != queue::State::kCorrupt || *where == QueueName::kCorrupt) table.Add(e.recipient, m.arrival, now);
      return true;
    });
    if (!st.ok()) log::Fatal("cannot read the queue: {}", st.message);
  }
  std::string out = table.Render();
  std::fwrite(out.data(), 1, out.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace postern::ctl
