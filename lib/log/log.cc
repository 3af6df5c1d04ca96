// log/log.cc — spdlog sinks for syslog, maillog_file and stderr, with
// Postfix's line shape. One write(2) per line on an O_APPEND descriptor, so
// lines of many processes never interleave in maillog_file.
#include "postern/log/log.h"

#include <fcntl.h>
#include <pthread.h>
#include <syslog.h>
#include <unistd.h>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>

#include "postern/config/maincf.h"
#include "postern/log/last_words.h"

namespace postern::log {

// A maillog_file that postern creates: owner and group (mail_owner) only, as
// every address that passes through is in it. master/setup.cc creates it alike.
constexpr mode_t kLogFileMode = 0640;

namespace {

struct State {
  std::string program = "postern";  // "postconf", or "smtpd" for a daemon
  std::string tag = "postern";       // "postern/smtpd"
  std::string host;
  bool daemon = false;
  Level level = Level::kBrief;
  std::set<std::string> traces, profiles;
  std::shared_ptr<spdlog::logger> logger;
};

State& S() {
  static State s;
  return s;
}

// getpid() is a system call per log line otherwise; a forked child (master's,
// before its exec) gets its own pid through the atfork handler.
pid_t g_pid = 0;
pid_t Pid() {
  static const bool once = [] {
    pthread_atfork(nullptr, nullptr, [] { g_pid = getpid(); });
    g_pid = getpid();
    return true;
  }();
  (void)once;
  return g_pid;
}

int Facility(std::string_view name) {
  static const struct { const char* name; int value; } kFacilities[] = {
      {"mail", LOG_MAIL}, {"daemon", LOG_DAEMON}, {"user", LOG_USER},
      {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},
      {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
      {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7}};
  for (auto& f : kFacilities)
    if (name == f.name) return f.value;
  return -1;
}

int Severity(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::critical: return LOG_CRIT;
    case spdlog::level::err: return LOG_ERR;
    case spdlog::level::warn: return LOG_WARNING;
    case spdlog::level::debug:
    case spdlog::level::trace: return LOG_DEBUG;
    default: return LOG_INFO;
  }
}

spdlog::level::level_enum SpdLevel(int severity) {
  if (severity <= LOG_CRIT) return spdlog::level::critical;
  if (severity == LOG_ERR) return spdlog::level::err;
  if (severity == LOG_WARNING) return spdlog::level::warn;
  if (severity == LOG_DEBUG) return spdlog::level::debug;
  return spdlog::level::info;
}

// syslog(3) with ident "postern/smtpd", LOG_PID and the configured facility.
class SyslogSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  SyslogSink(std::string ident, int facility) : ident_(std::move(ident)) {
    openlog(ident_.c_str(), LOG_PID | LOG_NDELAY, facility);
  }
  ~SyslogSink() override { closelog(); }

 protected:
  void sink_it_(const spdlog::details::log_msg& m) override {
    syslog(Severity(m.level), "%.*s", int(m.payload.size()), m.payload.data());
  }
  void flush_() override {}

 private:
  std::string ident_;  // openlog keeps the pointer
};

// "Nov 23 07:59:25 host postern/smtpd[123]: text\n", one write per line.
class LineSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  LineSink(int fd, bool owned, bool prefix) : fd_(fd), owned_(owned), prefix_(prefix) {}
  ~LineSink() override {
    if (owned_) close(fd_);
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& m) override {
    std::string line;
    if (prefix_) {
      char stamp[32];
      std::time_t t = std::chrono::system_clock::to_time_t(m.time);
      struct tm tm;
      localtime_r(&t, &tm);
      strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &tm);
      line = fmt::format("{} {} {}[{}]: ", stamp, S().host, S().tag, Pid());
    } else {
      line = S().program + ": ";
    }
    line.append(m.payload.data(), m.payload.size());
    line += '\n';
    for (size_t off = 0; off < line.size();) {
      ssize_t n = write(fd_, line.data() + off, line.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      off += size_t(n);
    }
  }
  void flush_() override {}

 private:
  int fd_;
  bool owned_;
  bool prefix_;
};

void Install(std::shared_ptr<spdlog::sinks::sink> sink) {
  auto logger = std::make_shared<spdlog::logger>("postern", std::move(sink));
  logger->set_level(spdlog::level::trace);
  logger->flush_on(spdlog::level::trace);
  S().logger = std::move(logger);
}

std::string HostName() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  std::string h = buf;
  return h.substr(0, h.find('.'));
}

}  // namespace

void InitCommand(std::string_view program) {
  S().program = std::string(program);
  S().tag = S().program;
  S().daemon = false;
  Install(std::make_shared<LineSink>(STDERR_FILENO, false, false));
}

void Reconfigure(const config::Config& cfg) {
  State& s = S();
  s.tag = cfg.Str("syslog_name") + "/" + s.program;
  s.host = HostName();
  std::string file = cfg.Str("maillog_file");
  if (!file.empty()) {
    // /dev/stdout and /dev/stderr mean the inherited descriptors: a worker
    // that dropped privileges could not reopen master's pipe or terminal.
    int fd = file == "/dev/stdout"   ? fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3)
             : file == "/dev/stderr" ? fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3)
                                     : open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, kLogFileMode);
    if (fd >= 0) {
      Install(std::make_shared<LineSink>(fd, true, true));
      return;
    }
    // Fall through to syslog, and say why once it is open.
    int err = errno;
    Install(std::make_shared<SyslogSink>(s.tag, LOG_MAIL));
    Warning("open maillog_file {}: {}", file, std::strerror(err));
    return;
  }
  int facility = Facility(cfg.Str("syslog_facility"));
  Install(std::make_shared<SyslogSink>(s.tag, facility < 0 ? LOG_MAIL : facility));
  if (facility < 0) Warning("unknown syslog_facility \"{}\"; using mail", cfg.Str("syslog_facility"));
}

void InitDaemon(std::string_view program, const config::Config& cfg) {
  S().program = std::string(program);
  S().daemon = true;
  Reconfigure(cfg);
}

void SetLevel(Level level) { S().level = level; }
void SetTraces(const std::set<std::string>& subsystems) { S().traces = subsystems; }
void SetProfiles(const std::set<std::string>& subsystems) { S().profiles = subsystems; }
bool Tracing(std::string_view subsystem) {
  const auto& t = S().traces;
  return !t.empty() && (t.count("all") || t.count(std::string(subsystem)));
}
bool Profiling(std::string_view subsystem) {
  const auto& p = S().profiles;
  return !p.empty() && (p.count("all") || p.count(std::string(subsystem)));
}
Level GetLevel() { return S().level; }
const std::string& Program() { return S().program; }

void Write(int severity, std::string_view text) {
  if (!S().logger) InitCommand(S().program);
  S().logger->log(SpdLevel(severity), "{}", text);
}

namespace {
int fatal_fd = -1;
}  // namespace

void SetFatalFd(int fd) { fatal_fd = fd; }

void FatalText(std::string_view text) {
  std::string line = "fatal: " + std::string(text);
  Write(LOG_CRIT, line);
  if (fatal_fd >= 0) {
    line += '\n';
    [[maybe_unused]] ssize_t n = write(fatal_fd, line.data(), line.size());
  }
  _exit(1);
}

std::string FormatDelay(double s) {
  constexpr long kMillion = 1000000;
  constexpr long kSigWidth = 100;    // two significant digits
  constexpr long kMaxRes = 10000;    // two decimals at most (delay_logging_resolution_limit)
  long long us = s > 0 && s < 1e12 ? std::llround(s * kMillion) : 0;
  long long sec = us / kMillion;
  long usec = long(us % kMillion);
  // The resolution: whole seconds from 10 s, tenths from 1 s, else hundredths.
  long res = kMaxRes;
  if (sec > 0) {
    long n = 1;
    while (sec >= n && n <= kSigWidth / 10) n *= 10;
    res = (kMillion / kSigWidth) * n;
  }
  usec += res / 2;  // round half up; what is below the resolution is cut off
  if (usec >= kMillion) ++sec, usec -= kMillion;
  std::string out = std::to_string(sec);
  if (usec >= res) {
    out += '.';
    for (long rem = usec, n = kMillion / 10; rem >= res && n > 0; n /= 10) {
      out += char('0' + rem / n);
      rem %= n;
    }
  }
  return out;
}

std::string FormatDelays(double total, double before_qmgr, double in_qmgr, double setup, double transmission) {
  return "delay=" + FormatDelay(total) + ", delays=" + FormatDelay(before_qmgr) + "/" + FormatDelay(in_qmgr) + "/" +
         FormatDelay(setup) + "/" + FormatDelay(transmission);
}

}  // namespace postern::log
