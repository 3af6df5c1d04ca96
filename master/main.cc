// master/main.cc — master's start-up: options, detaching (the parent waits
// until the daemon is listening and reports why not), pid lock, first
// configuration, then the loop. `postern start` and `start-fg` run this.
//   master [-c config_dir] [-d] [-w] [-t]
//     -d  stay in the foreground (start-fg, containers); Ctrl-C stops all
//     -w  detach and wait until the daemon is up (the default; Postfix's -w)
//     -t  test: exit 0 when no master of this configuration runs
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "master/master.h"
#include "master/setup.h"
#include "postern/config/layout.h"
#include "postern/config/maincf.h"
#include "postern/config/mastercf.h"
#include "postern/event/event.h"
#include "postern/log/log.h"

using namespace postern;

namespace {

int report_fd = -1;  // detached start: the pipe to the waiting parent

[[noreturn]] void Fail(const std::string& why) {
  if (report_fd >= 0) {
    std::string msg = why;
    if (write(report_fd, msg.data(), msg.size()) < 0) {}
  } else {
    std::fprintf(stderr, "postern/master: fatal: %s\n", why.c_str());
  }
  log::Error("{}", why);
  std::exit(1);
}

// Forks; the parent waits for "ok" or an error text on a pipe and exits with
// the verdict, so `postern start` can say why a start failed.
void Detach() {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) Fail("pipe: " + std::string(std::strerror(errno)));
  pid_t pid = fork();
  if (pid < 0) Fail("fork: " + std::string(std::strerror(errno)));
  if (pid > 0) {
    close(p[1]);
    std::string msg;
    char buf[512];
    ssize_t n;
    while ((n = read(p[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
      if (n > 0) msg.append(buf, size_t(n));
    if (msg == "ok") std::exit(0);
    std::fprintf(stderr, "postern/master: fatal: %s\n",
                 msg.empty() ? "master exited during start-up; see the mail log" : msg.c_str());
    std::exit(1);
  }
  close(p[0]);
  report_fd = p[1];
  setsid();
}

void DetachStdio() {
  int fd = open("/dev/null", O_RDWR);
  if (fd < 0) return;
  dup2(fd, 0);
  dup2(fd, 1);
  dup2(fd, 2);
  if (fd > 2) close(fd);
}

bool Running(const config::Config& cfg) {
  Fd fd(open(master::PidFilePath(cfg).c_str(), O_RDONLY | O_CLOEXEC));
  return fd.valid() && flock(fd.get(), LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dash_c;
  bool foreground = false, test = false;
  int opt;
  while ((opt = getopt(argc, argv, "c:dwtv")) != -1) {
    switch (opt) {
      case 'c': dash_c = optarg; break;
      case 'd': foreground = true; break;
      case 'w': foreground = false; break;
      case 't': test = true; break;
      case 'v': log::SetLevel(log::Level::kVerbose); break;
      default:
        std::fprintf(stderr, "usage: master [-c config_dir] [-d] [-w] [-t]\n");
        return 1;
    }
  }
  log::InitCommand("postern/master");
  std::string config_dir = config::ConfigDir(dash_c);
  // Workers and reloads must find it whatever the working directory.
  if (char real[PATH_MAX]; realpath(config_dir.c_str(), real)) config_dir = real;
  auto cfg = config::Config::Load(config_dir);
  if (!cfg) Fail(cfg.error());
  if (test) return Running(*cfg) ? 1 : 0;
  auto defs = config::LoadMasterCf(config_dir);
  if (!defs) Fail(defs.error());

  if (!foreground) Detach();
  auto owner = master::ResolveOwner(*cfg);
  if (!owner) Fail(owner.error());
  if (auto r = master::MakeQueueTree(*cfg, *owner); !r) Fail(r.error());
  auto lock = master::LockPidFile(master::PidFilePath(*cfg));
  if (!lock) Fail(lock.error());
  master::PrepareLogFile(*cfg, *owner);
  log::InitDaemon("master", *cfg);
  master::CompactQueue(*cfg, *owner);
  if (chdir(cfg->Str("queue_directory").c_str()) != 0) Fail("chdir queue_directory: " + std::string(std::strerror(errno)));

  event::Loop loop;
  master::Master m(loop.get(), config_dir);
  if (auto r = m.Configure(*cfg, *defs); !r) Fail(r.error());
  m.Start();
  log::Info("daemon started -- version {}, configuration {}", cfg->Str("mail_version"), config_dir);
  if (report_fd >= 0) {
    DetachStdio();
    if (write(report_fd, "ok", 2) < 0) {}
    close(report_fd);
    report_fd = -1;
  }
  loop.Run();
  return 0;
}
