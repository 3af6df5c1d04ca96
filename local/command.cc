// local/command.cc — fork, drop privileges, exec /bin/sh -c, feed the
// message and collect output under a deadline; see command.h.
#include "local/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "event/event.h"

namespace postern::local {

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

std::string Clean(std::string_view out) {
  std::string s;
  for (char c : out.substr(0, kMaxOutput)) s += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

[[noreturn]] void Child(const CommandSpec& spec, int in, int out) {
  setsid();  // its own process group: the time limit kills the whole pipeline
  if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) _exit(71);
  syscall(SYS_close_range, 3U, ~0U, 0U);
  signal(SIGPIPE, SIG_DFL);
  if (spec.as && !BecomeUser(*spec.as)) _exit(71);
  if (chdir(spec.cwd.c_str()) != 0 && chdir("/") != 0) _exit(71);
  std::vector<char*> envp;
  for (const std::string& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const char* argv[] = {"sh", "-c", spec.command.c_str(), nullptr};
  execve("/bin/sh", const_cast<char* const*>(argv), envp.data());
  _exit(71);
}

}  // namespace

Verdict ExitVerdict(int status, std::string_view output) {
  std::string said = Clean(output);
  std::string tail = said.empty() ? "" : ". Command output: " + said;
  if (WIFSIGNALED(status))
    return Verdict::Defer("4.3.0", "Command died with signal " + std::to_string(WTERMSIG(status)) + tail);
  int code = WEXITSTATUS(status);
  if (code == 0) return Verdict::Sent("");
  for (const SysExit& e : kSysExits) {
    if (e.code != code) continue;
    std::string text = std::string(e.text) + tail;
    return e.soft ? Verdict::Defer(e.dsn, text) : Verdict::Bounce(e.dsn, text);
  }
  return Verdict::Bounce("5.3.0", "Command died with status " + std::to_string(code) + tail);
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

}  // namespace

Verdict RunCommand(const CommandSpec& spec, std::string_view input) {
  IgnoreSigpipe no_sigpipe;
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) return Verdict::Defer("4.3.0", std::string("pipe: ") + std::strerror(errno));
  event::Fd in_r(in[0]), in_w(in[1]);
  if (pipe2(out, O_CLOEXEC) != 0) return Verdict::Defer("4.3.0", std::string("pipe: ") + std::strerror(errno));
  event::Fd out_r(out[0]), out_w(out[1]);
  pid_t pid = fork();
  if (pid < 0) return Verdict::Defer("4.3.0", std::string("fork: ") + std::strerror(errno));
  if (pid == 0) Child(spec, in_r.get(), out_w.get());
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
  if (timed_out) kill(-pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) return Verdict::Bounce("5.3.0", "Command time limit exceeded: \"" + spec.command + "\"");
  return ExitVerdict(status, output);
}

}  // namespace postern::local
