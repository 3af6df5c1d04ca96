// mda/command.cc — fork, drop privileges, exec (a shell command or an
// argument vector), feed the message and collect output under a deadline;
// see command.h.
#include "postern/mda/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "postern/event/event.h"

namespace postern::mda {

namespace {

constexpr size_t kMaxOutput = 1000;  // kept for the DSN text, as Postfix's pipe output

struct SysExit {
  int code;
  const char* dsn;
  const char* text;
  bool soft;
};
constexpr SysExit kSysExits[] = {
    {64, "5.3.0", "command line usage error", false},  {65, "5.6.0", "data format error", false},
    {66, "5.3.0", "cannot open input", false},          {67, "5.1.1", "user unknown", false},
    {68, "5.1.2", "host name unknown", false},          {69, "5.3.0", "service unavailable", false},
    {70, "5.3.0", "internal software error", false},    {71, "4.3.0", "system resource problem", true},
    {72, "5.3.0", "critical OS file missing", false},   {73, "5.2.0", "can't create user output file", false},
    {74, "5.3.0", "input/output error", false},         {75, "4.3.0", "temporary failure", true},
    {76, "5.5.0", "remote error in protocol", false},   {77, "5.7.0", "permission denied", false},
    {78, "5.3.5", "local configuration error", false},
};

// Postfix's treatment of the output in a bounce text: tabs and line ends
// become spaces, other control characters '_'.
std::string Clean(std::string_view out) {
  std::string s;
  for (char c : out.substr(0, kMaxOutput)) {
    auto u = static_cast<unsigned char>(c);
    s += (c == '\n' || c == '\r' || c == '\t') ? ' ' : (u < 0x20 || u == 0x7f) ? '_' : c;
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// "4.2.1 text" or "5.1.1 text" at the start of the output (Postfix's
// dsn_valid): that status and the rest of the text decide.
std::optional<Verdict> StatusFromOutput(const std::string& said) {
  std::string dsn, rest;
  if (said.empty() || (said[0] != '4' && said[0] != '5') || !SplitStatus(said, &dsn, &rest)) return std::nullopt;
  return said[0] == '4' ? Verdict::Defer(dsn, rest) : Verdict::Bounce(dsn, rest);
}

// The child's last words: why it could not run the command (read back as
// its output), and EX_TEMPFAIL, as Postfix's pipe_child_cleanup.
[[noreturn]] void Die(const char* what, const char* arg) {
  int err = errno;
  char line[600];  // no allocation after fork
  int n = snprintf(line, sizeof line, "%s %s: %s\n", what, arg, std::strerror(err));
  if (n > 0) (void)!write(1, line, std::min<size_t>(size_t(n), sizeof line - 1));
  _exit(75);
}

struct Exec {
  std::vector<std::string> paths;  // candidates for the program
  std::vector<char*> argv, envp;
};

// Everything the child needs, built before fork (no allocation after it).
Exec PrepareExec(const CommandSpec& spec) {
  Exec x;
  static const char* const kShell[] = {"sh", "-c"};
  if (spec.argv.empty()) {
    x.paths = {"/bin/sh"};
    for (const char* a : kShell) x.argv.push_back(const_cast<char*>(a));
    x.argv.push_back(const_cast<char*>(spec.command.c_str()));
  } else {
    const std::string& prog = spec.argv[0];
    if (prog.find('/') != std::string::npos) {
      x.paths = {prog};
    } else {
      std::string path = "/usr/bin:/bin";
      for (const std::string& e : spec.env)
        if (e.starts_with("PATH=")) path = e.substr(5);
      for (size_t i = 0; i <= path.size();) {
        size_t colon = path.find(':', i);
        if (colon == std::string::npos) colon = path.size();
        std::string dir = path.substr(i, colon - i);
        x.paths.push_back((dir.empty() ? "." : dir) + "/" + prog);
        i = colon + 1;
      }
    }
    for (const std::string& a : spec.argv) x.argv.push_back(const_cast<char*>(a.c_str()));
  }
  x.argv.push_back(nullptr);
  for (const std::string& e : spec.env) x.envp.push_back(const_cast<char*>(e.c_str()));
  x.envp.push_back(nullptr);
  return x;
}

[[noreturn]] void Child(const CommandSpec& spec, const Exec& x, int in, int out) {
  setsid();  // its own process group: the time limit kills the whole pipeline
  if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) _exit(75);
  syscall(SYS_close_range, 3U, ~0U, 0U);
  signal(SIGPIPE, SIG_DFL);
  if (!spec.chroot.empty() && (chroot(spec.chroot.c_str()) != 0 || chdir("/") != 0))
    Die("chroot", spec.chroot.c_str());
  if (spec.as && !BecomeUser(*spec.as, spec.only_gid)) Die("cannot switch to user", spec.as->name.c_str());
  if (chdir(spec.cwd.c_str()) != 0 && (spec.cwd_required || chdir("/") != 0))
    Die("cannot change directory to", spec.cwd.c_str());
  int err = ENOENT;
  for (const std::string& p : x.paths) {
    execve(p.c_str(), x.argv.data(), x.envp.data());
    if (errno != ENOENT || err == ENOENT) err = errno;  // keep the telling error (EACCES over ENOENT)
  }
  errno = err;
  Die("execvp", x.paths.size() == 1 ? x.paths[0].c_str() : spec.argv.empty() ? "" : spec.argv[0].c_str());
}

}  // namespace

Verdict ExitVerdict(int status, std::string_view output, std::string_view command) {
  std::string said = Clean(output);
  std::string tail = said.empty() ? "" : ". Command output: " + said;
  std::string quoted = command.empty() ? "" : ": \"" + std::string(command) + "\"";
  if (WIFSIGNALED(status))
    return Verdict::Defer("4.3.0", "Command died with signal " + std::to_string(WTERMSIG(status)) + quoted + tail);
  int code = WEXITSTATUS(status);
  if (code == 0) return Verdict::Sent("");
  if (auto v = StatusFromOutput(said)) return *v;
  for (const SysExit& e : kSysExits) {
    if (e.code != code) continue;
    std::string text = std::string(e.text) + tail;
    return e.soft ? Verdict::Defer(e.dsn, text) : Verdict::Bounce(e.dsn, text);
  }
  return Verdict::Bounce("5.3.0", "Command died with status " + std::to_string(code) + quoted + tail);
}

std::vector<std::string> CommandEnvironment(const std::vector<std::string>& export_environment, const Creds* pw) {
  std::vector<std::string> env;
  for (const std::string& e : export_environment) {
    if (e.find('=') != std::string::npos) {
      env.push_back(e);
    } else if (const char* v = getenv(e.c_str())) {
      env.push_back(e + "=" + v);
    }
  }
  env.push_back("PATH=/usr/bin:/bin");
  if (pw) {
    env.push_back("HOME=" + pw->home);
    env.push_back("LOGNAME=" + pw->name);
    env.push_back("USER=" + pw->name);
    env.push_back("SHELL=" + pw->shell);
  }
  return env;
}

namespace {

// A command that exits without reading all its input must not kill us.
class IgnoreSigpipe {
 public:
  IgnoreSigpipe() {
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &old_);
  }
  ~IgnoreSigpipe() { sigaction(SIGPIPE, &old_, nullptr); }

 private:
  struct sigaction old_ {};
};

// The command's exit status; past the deadline (even after it closed its
// output) its process group is killed, as Postfix's pipe_command_wait_or_kill.
int WaitOrKill(pid_t pid, std::chrono::steady_clock::time_point deadline, bool* timed_out) {
  if (*timed_out) kill(-pid, SIGKILL);
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, *timed_out ? 0 : WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) return status;
    if (r != 0) continue;
    if (std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    *timed_out = true;
    kill(-pid, SIGKILL);
  }
}

}  // namespace

Verdict RunCommand(const CommandSpec& spec, std::string_view input) {
  IgnoreSigpipe no_sigpipe;
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) return Verdict::Defer("4.3.0", std::string("pipe: ") + std::strerror(errno));
  Fd in_r(in[0]), in_w(in[1]);
  if (pipe2(out, O_CLOEXEC) != 0) return Verdict::Defer("4.3.0", std::string("pipe: ") + std::strerror(errno));
  Fd out_r(out[0]), out_w(out[1]);
  Exec x = PrepareExec(spec);
  pid_t pid = fork();
  if (pid < 0) return Verdict::Defer("4.3.0", std::string("Delivery failed: fork: ") + std::strerror(errno));
  if (pid == 0) Child(spec, x, in_r.get(), out_w.get());
  in_r.Reset();
  out_w.Reset();
  fcntl(in_w.get(), F_SETFL, O_NONBLOCK);
  fcntl(out_r.get(), F_SETFL, O_NONBLOCK);
  std::string output;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(spec.time_limit_seconds);
  bool timed_out = false;
  while (in_w.valid() || out_r.valid()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p[2];
    int n = 0;
    if (in_w.valid()) p[n++] = {in_w.get(), POLLOUT, 0};
    if (out_r.valid()) p[n++] = {out_r.get(), POLLIN, 0};
    if (poll(p, nfds_t(n), int(std::min<long long>(left.count(), 1000))) < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      if (!p[i].revents) continue;
      if (in_w.valid() && p[i].fd == in_w.get()) {
        ssize_t w = write(in_w.get(), input.data(), std::min<size_t>(input.size(), 1 << 16));
        if (w > 0) input.remove_prefix(size_t(w));
        // A command that stops reading (EPIPE) has what it wanted; its exit status judges.
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || input.empty()) in_w.Reset();
      } else if (out_r.valid() && p[i].fd == out_r.get()) {
        char buf[4096];
        ssize_t r = read(out_r.get(), buf, sizeof buf);
        if (r > 0 && output.size() < kMaxOutput) output.append(buf, size_t(r));
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) out_r.Reset();
      }
    }
  }
  int status = WaitOrKill(pid, deadline, &timed_out);
  // Postfix's pipe_command: a command over its time limit bounces.
  std::string said = Clean(output);
  if (timed_out)
    return Verdict::Bounce("5.3.0", "Command time limit exceeded: \"" + spec.command + "\"" +
                                        (said.empty() ? "" : ". Command output: " + said));
  return ExitVerdict(status, output, spec.command);
}

}  // namespace postern::mda
