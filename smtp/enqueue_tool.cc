// smtp/enqueue_tool.cc — a test helper (never installed) for the smtp client's
// system tests: puts one message with exact content into a queue and prints
// "MSGID" then one "ENVID RECIPIENT" line per envelope.
//   smtp_enqueue CONFIG_DIR BODY_FILE [-f sender] [--8bit] [--smtputf8]
//                [--ret full|hdrs] [--envid ID] rcpt[;NOTIFYBITS[;ORCPT]] ...
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config/maincf.h"
#include "log/log.h"
#include "queue/queue.h"

namespace q = postern::queue;

namespace {

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "smtp_enqueue: %s\n", why.c_str());
  std::exit(1);
}

q::Recipient ParseRcpt(const std::string& spec) {
  q::Recipient r;
  size_t a = spec.find(';');
  r.address = spec.substr(0, a);
  if (a == std::string::npos) return r;
  size_t b = spec.find(';', a + 1);
  r.notify = uint8_t(std::stoul(spec.substr(a + 1, b == std::string::npos ? b : b - a - 1)));
  if (b != std::string::npos) r.orig_recipient = spec.substr(b + 1);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  postern::log::InitCommand("smtp_enqueue");
  if (argc < 4) Die("usage: smtp_enqueue CONFIG_DIR BODY_FILE [options] rcpt...");
  std::ifstream in(argv[2], std::ios::binary);
  if (!in) Die(std::string("cannot read ") + argv[2]);
  std::stringstream body;
  body << in.rdbuf();
  q::MessageRecord rec;
  rec.sender = "sender@example.org";
  rec.protocol = "ESMTP";
  std::vector<q::Recipient> rcpts;
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Die(a + " needs a value");
      return argv[++i];
    };
    if (a == "-f") rec.sender = value();
    else if (a == "--8bit") rec.flags |= q::kFlag8BitMime;
    else if (a == "--smtputf8") rec.flags |= q::kFlagSmtpUtf8;
    else if (a == "--ret") rec.dsn_ret = value() == "full" ? q::DsnRet::kFull : q::DsnRet::kHdrs;
    else if (a == "--envid") rec.dsn_envid = value();
    else rcpts.push_back(ParseRcpt(a));
  }
  if (rcpts.empty()) Die("no recipients");
  // The instance's own options: as root, what is created belongs to mail_owner.
  auto cfg = postern::config::Config::Load(argv[1]);
  if (!cfg) Die(cfg.error());
  auto opts = q::OptionsFromConfig(*cfg);
  if (!opts.ok()) Die(opts.status().message);
  auto dir = cfg->Get("queue_directory");
  if (!dir) Die(dir.error());
  auto qu = q::Queue::Open(*dir, *opts);
  if (!qu.ok()) Die("open " + *dir + ": " + qu.status().message);
  auto w = (*qu)->Begin(rec);
  if (!w.ok()) Die(w.status().message);
  if (auto s = (*w)->Append(body.str()); !s.ok()) Die(s.message);
  for (auto& r : rcpts) {
    if (auto s = (*w)->AddRecipient(r); !s.ok()) Die(s.message);
  }
  auto id = (*qu)->Commit(std::move(*w));
  if (!id.ok()) Die(id.status().message);
  std::printf("%s\n", q::FormatMsgId(*id).c_str());
  auto envs = (*qu)->Envelopes(*id);
  if (!envs.ok()) Die(envs.status().message);
  for (const auto& e : *envs) std::printf("%s %s\n", q::FormatEnvId(e.id).c_str(), e.recipient.c_str());
  return 0;
}
