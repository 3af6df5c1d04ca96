// ctl/encrypt.cc — `postern encrypt [string]`: prints a yescrypt hash
// ("$y$...", libxcrypt) of the argument or of one line read from stdin, for
// password tables. The password itself is never echoed and is wiped after use.
#include <crypt.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "ctl/tools.h"
#include "postern/log/log.h"

namespace postern::ctl {

namespace {

constexpr size_t kMaxPassword = 1024;

// Turns terminal echo off for its lifetime (only when stdin is a terminal).
class NoEcho {
 public:
  NoEcho() {
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios t = saved_;
    t.c_lflag &= ~tcflag_t(ECHO);
    active_ = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
  }
  ~NoEcho() {
    if (!active_) return;
    tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    std::fputc('\n', stderr);  // the user's Enter was not echoed
  }
  NoEcho(const NoEcho&) = delete;
  NoEcho& operator=(const NoEcho&) = delete;

 private:
  termios saved_{};
  bool active_ = false;
};

// Wipes a secret string when it goes out of scope.
struct Wiped {
  std::string s;
  ~Wiped() { explicit_bzero(s.data(), s.size()); }
};

// One line from stdin without its line end; false at EOF with nothing read.
bool ReadSecretLine(std::string* out) {
  NoEcho no_echo;  // before the prompt, so nothing typed after it is echoed
  if (isatty(STDIN_FILENO)) std::fputs("Password: ", stderr);
  for (int c; (c = std::getchar()) != EOF;) {
    if (c == '\n') return true;
    if (out->size() < kMaxPassword) out->push_back(char(c));
  }
  return !out->empty();
}

int Encrypt(Context& ctx) {
  if (ctx.args.size() > 1) {
    log::Error("usage: postern encrypt [string]");
    return 1;
  }
  Wiped pw;
  if (!ctx.args.empty()) {
    pw.s = ctx.args[0];
    explicit_bzero(ctx.args[0].data(), ctx.args[0].size());
  } else if (!ReadSecretLine(&pw.s)) {
    log::Error("encrypt: no password on standard input");
    return 1;
  }
  if (!pw.s.empty() && pw.s.back() == '\r') pw.s.pop_back();
  if (pw.s.size() > kMaxPassword) {
    log::Error("encrypt: password longer than {} characters", kMaxPassword);
    return 1;
  }
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  // No random bytes passed: libxcrypt draws them from the kernel itself.
  if (!crypt_gensalt_rn("$y$", 0, nullptr, 0, setting, sizeof setting)) {
    log::Error("encrypt: cannot make a yescrypt salt: {}", std::strerror(errno));
    return 1;
  }
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof *data);
  const char* hash = crypt_r(pw.s.c_str(), setting, data.get());
  if (!hash || hash[0] == '*') {
    log::Error("encrypt: crypt failed: {}", std::strerror(errno));
    return 1;
  }
  std::printf("%s\n", hash);
  explicit_bzero(data.get(), sizeof *data);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

const std::vector<Command>& EncryptCommands() {
  static const std::vector<Command> commands = {
      {{"encrypt"}, "[string]", "print a yescrypt hash of string (or of a line read from stdin)", Encrypt},
  };
  return commands;
}

}  // namespace postern::ctl
