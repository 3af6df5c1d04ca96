// tests/tools/qtool.cc — the one test-only queue tool (never installed): opens
// an instance's queue (by its configuration) or a bare queue directory and runs
// one subcommand on it. See the usage text; tests/system/conftest.py drives it.
#include "tests/tools/qtool.h"

#include <cstdio>
#include <cstdlib>
#include <map>

#include "postern/config/layout.h"
#include "postern/config/maincf.h"
#include "postern/log/log.h"

namespace postern::qtool {

namespace {

constexpr const char* kUsageText =
    "usage: qtool (-c CONFIG_DIR | -q QUEUE_DIR) [--map-limit N] [--initial-map N] [--min-free N] [--recover]\n"
    "             COMMAND [ARGS]\n"
    "  inject [-f SENDER] [-n COUNT] [-s SIZE] [-a SECONDS_AGO] [--no-trigger] RCPT...  generated, then wake qmgr\n"
    "  enqueue BODY_FILE [-f SENDER] [--8bit] [--smtputf8] [--ret full|hdrs] [--envid ID] RCPT[;NOTIFY[;ORCPT]]...\n"
    "  list | hold MSGID | dump                                         envelopes, hold, messages as JSON\n"
    "  flood [--async N] [--size N] [COUNT] | verify [--size N] [IDS_FILE] | scan [SECONDS] | remove [N]\n";

using Command = int (*)(Context&);

const std::map<std::string, Command>& Commands() {
  static const std::map<std::string, Command> commands = {
      {"inject", Inject}, {"enqueue", Enqueue}, {"list", List},     {"hold", Hold},     {"dump", Dump},
      {"flood", Flood},   {"verify", Verify},   {"scan", Scan},     {"remove", Remove},
  };
  return commands;
}

// Global options up to the subcommand; false on a usage error.
bool ParseGlobal(int argc, char** argv, Context* c, std::string* config_dir, int* next) {
  queue::Options& o = c->options;
  bool recover = false;
  uint64_t map_limit = 0, initial_map = 0, min_free = 0;
  bool min_free_set = false;
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return false;
    if (a == "--recover") recover = true;
    else if (a == "-c") *config_dir = argv[++i];
    else if (a == "-q") c->queue_dir = argv[++i];
    else if (a == "--map-limit") map_limit = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--initial-map") initial_map = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--min-free") min_free = std::strtoull(argv[++i], nullptr, 10), min_free_set = true;
    else return false;
  }
  if (config_dir->empty() == c->queue_dir.empty() || i >= argc) return false;
  if (!config_dir->empty()) {
    // The instance's own options: as root, what is created belongs to mail_owner.
    auto cfg = config::Config::Load(config::ConfigDir(*config_dir));
    if (!cfg) return Fail(cfg.error()), false;
    auto opts = queue::OptionsFromConfig(*cfg);
    if (!opts.ok()) return Fail(opts.status().message), false;
    o = *opts;
    c->queue_dir = cfg->Str("queue_directory");
  }
  if (map_limit) o.map_size_limit = map_limit;
  if (initial_map) o.initial_map_size = initial_map;
  if (min_free_set) o.min_free = min_free;
  o.recover = recover;
  *next = i;
  return true;
}

}  // namespace

int Fail(const std::string& what, int code) {
  std::fprintf(stderr, "qtool: %s\n", what.c_str());
  return code;
}

int ExitCode(const queue::Status& s) { return s.code == queue::Code::kInsufficientStorage ? kInsufficient : kFailed; }

queue::Outcome<queue::MsgId> Put(queue::Queue& q, queue::MessageRecord rec, std::string_view body,
                                 const std::vector<queue::Recipient>& rcpts) {
  auto w = q.Begin(std::move(rec));
  if (!w.ok()) return w.status();
  // In pieces, as smtpd hands content over; a failed append is reported by the commit.
  for (size_t off = 0; off < body.size(); off += 4096) {
    if (!(*w)->Append(body.substr(off, 4096)).ok()) break;
  }
  for (const queue::Recipient& r : rcpts) {
    if (auto s = (*w)->AddRecipient(r); !s.ok()) return s;
  }
  return q.Commit(std::move(*w));
}

queue::Outcome<std::string> ReadBody(queue::Queue& q, queue::MsgId id) {
  auto body = q.OpenBody(id);
  if (!body.ok()) return body.status();
  std::string text(body->size(), '\0');
  size_t off = 0;
  while (off < text.size()) {
    auto n = body->Read(text.data() + off, text.size() - off);
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    off += *n;
  }
  text.resize(off);
  return text;
}

}  // namespace postern::qtool

int main(int argc, char** argv) {
  using namespace postern::qtool;
  postern::log::InitCommand("qtool");
  Context c;
  std::string config_dir;
  int next = 0;
  if (!ParseGlobal(argc, argv, &c, &config_dir, &next)) return std::fputs(kUsageText, stderr), kUsage;
  auto cmd = Commands().find(argv[next]);
  if (cmd == Commands().end()) return Fail(std::string("unknown command ") + argv[next] + "\n" + kUsageText, kUsage);
  c.args.assign(argv + next + 1, argv + argc);
  auto q = postern::queue::Queue::Open(c.queue_dir, c.options);
  if (!q.ok()) return Fail("open " + c.queue_dir + ": " + q.status().message, kUsage);
  c.queue = std::move(*q);
  return cmd->second(c);
}
