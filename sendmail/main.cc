// sendmail/main.cc — `sendmail` and `mailq` (one program, two names):
// Postfix's sendmail options, then one of submit, SMTP on stdin/stdout
// (-bs), queue listing (-bp, mailq), aliases (-bi runs newaliases), address
// verification (-bv, through verify(8)).
// See sendmail(1).
#include <getopt.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "postern/config/layout.h"
#include "postern/ipc/verify.h"
#include "postern/log/log.h"
#include "postern/showq/showq.h"
#include "sendmail/sendmail.h"

namespace postern::sendmail {

namespace {

[[noreturn]] void Usage(std::string_view why) {
  log::Write(3, std::string(why));
  fputs("usage: sendmail [-t] [-i] [-f sender] [-F full_name] [-N dsn] [-R ret] [-V envid] [-B body_type]\n"
        "                [-bm|-bs|-bp|-bi|-bd|-bv] [-q] [-v] [-C config_dir] [recipient ...]\n",
        stderr);
  exit(kExUsage);
}

void ParseDsn(Args* a, char opt, std::string_view v) {
  if (opt == 'N') {
    smtp::RcptParams p;
    if (!smtp::ParseRcptParams("NOTIFY=" + std::string(v), &p).ok()) Usage("bad -N value: " + std::string(v));
    a->notify = p.notify;
  } else if (opt == 'R') {
    smtp::MailParams p;
    if (!smtp::ParseMailParams("RET=" + std::string(v), &p).ok()) Usage("bad -R value: " + std::string(v));
    a->ret = p.ret;
  } else {  // 'B'
    smtp::MailParams p;
    if (!smtp::ParseMailParams("BODY=" + std::string(v), &p).ok()) Usage("bad -B value: " + std::string(v));
    a->body = p.body;
  }
}

void ParseMode(Args* a, std::string_view m) {
  if (m == "m") a->mode = Mode::kMail;
  else if (m == "s") a->mode = Mode::kSmtp;
  else if (m == "p") a->mode = Mode::kList;
  else if (m == "i") a->mode = Mode::kAliases;
  else if (m == "d" || m == "l") a->mode = Mode::kDaemon;
  else if (m == "v") a->mode = Mode::kVerify;
  else Usage("unsupported: -b" + std::string(m));
}

// Postfix's option letters; those it accepts and ignores are ignored here too
// (-G -U -c -e -h -m -n -x -p -L -O -X and -o other than -oi / -oB).
Args Parse(int argc, char** argv) {
  Args a;
  opterr = 0;
  while (optind < argc) {
    // "-q" alone (no interval) asks for a queue run.
    if (strcmp(argv[optind], "-q") == 0) {
      a.mode = Mode::kFlush;
      ++optind;
      continue;
    }
    int c = getopt(argc, argv, "+B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:r:q:tvx");
    if (c == -1) break;
    std::string_view v = optarg ? optarg : "";
    switch (c) {
      case 'B': case 'N': case 'R': ParseDsn(&a, char(c), v); break;
      case 'C': a.config_dir = std::string(v); break;
      case 'F': a.full_name = std::string(v); break;
      case 'I': a.mode = Mode::kAliases; break;
      case 'V': a.envid = std::string(v); break;
      case 'b': ParseMode(&a, v); break;
      case 'f': case 'r': a.sender = std::string(v); break;
      case 'i': a.dot_ends = false; break;
      case 'o':
        if (v == "i") a.dot_ends = false;
        else if (v.starts_with("B")) ParseDsn(&a, 'B', v.substr(1));
        break;
      case 'q':
        // -qRsite / -qSsite name a site to flush (ETRN), which postern has no queue index for;
        // -qINTERVAL is a daemon's run interval, ignored as Postfix does.
        if (v.starts_with("R") || v.starts_with("S") || v.starts_with("I"))
          Usage("unsupported: -q" + std::string(v));
        break;
      case 't': a.extract = true; break;
      case 'v': a.verbose = true; break;
      case 'G': case 'L': case 'O': case 'U': case 'X': case 'c': case 'e': case 'h':
      case 'm': case 'n': case 'p': case 'x':
        break;
      default:
        Usage(optopt ? std::string("invalid option -- '") + char(optopt) + "'" : "invalid option");
    }
  }
  for (int i = optind; i < argc; ++i) a.rcpts.emplace_back(argv[i]);
  return a;
}

// Runs another postern command with the same configuration directory.
[[noreturn]] void Exec(const config::Config& cfg, const std::string& dir, const char* program,
                       std::vector<std::string> args) {
  std::string path = cfg.Str("command_directory") + "/" + program;
  std::vector<char*> argv{const_cast<char*>(program)};
  std::string dash_c = "-c";
  argv.push_back(dash_c.data());
  argv.push_back(const_cast<char*>(dir.c_str()));
  for (std::string& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  fflush(stdout);
  execv(path.c_str(), argv.data());
  Die(kExOsErr, "execute " + path + ": " + strerror(errno));
}

std::string ProgramName(const char* argv0) {
  std::string_view p = argv0 ? argv0 : "sendmail";
  size_t slash = p.rfind('/');
  return std::string(slash == std::string_view::npos ? p : p.substr(slash + 1));
}

// -bv: each recipient probed by verify(8); the result and the remote reply
// are printed (Postfix mails them as a report).
int Verify(const config::Config& cfg, const Args& a) {
  if (a.rcpts.empty()) Usage("-bv needs at least one recipient");
  std::string socket = cfg.Str("queue_directory") + "/private/" + cfg.Str("address_verify_service_name");
  return ipc::VerifyAndPrint(socket, ipc::VerifyKind::kRecipient, a.rcpts);
}

}  // namespace

int Main(int argc, char** argv) {
  std::string name = ProgramName(argv[0]);
  if (name != "mailq") name = "sendmail";
  log::InitCommand(name);
  Args a = Parse(argc, argv);
  if (name == "mailq") a.mode = Mode::kList;
  std::string dir = config::ConfigDir();
  if (a.config_dir) {
    dir = *a.config_dir;
    // Postfix's -C also takes the main.cf file itself.
    if (dir.ends_with("/main.cf")) dir.erase(dir.size() - 8);
  }
  auto cfg = config::Config::Load(dir);
  if (!cfg) Die(kExConfig, cfg.error());
  for (const auto& p : cfg->Validate())
    if (!p.warning) Die(kExConfig, dir + "/main.cf: " + p.text);
  switch (a.mode) {
    case Mode::kList: return showq::Mailq(*cfg);
    case Mode::kAliases: Exec(*cfg, dir, "newaliases", a.verbose ? std::vector<std::string>{"-v"} : std::vector<std::string>{});
    case Mode::kDaemon: Exec(*cfg, dir, "postern", {"start"});
    case Mode::kFlush: Exec(*cfg, dir, "postern", {"flush"});
    case Mode::kSmtp: return SmtpSession(*cfg, a);
    case Mode::kVerify: return Verify(*cfg, a);
    case Mode::kMail: break;
  }
  return SendMail(*cfg, a);
}

}  // namespace postern::sendmail

int main(int argc, char** argv) { return postern::sendmail::Main(argc, argv); }
