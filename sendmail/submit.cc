// sendmail/submit.cc — blocking SMTP over the local submission socket (see
// submit.h). A command-line program may block; it talks to one peer only.
#include "sendmail/submit.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "postern/util/unix_socket.h"

namespace postern::sendmail {
namespace {

constexpr int kDrainMs = 10000;

Result<void> WriteAll(int fd, std::string_view b) {
  while (!b.empty()) {
    ssize_t n = write(fd, b.data(), b.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Err(std::string("write: ") + strerror(errno));
    b.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

}  // namespace

Result<Submission> Submission::Connect(const std::string& path, bool verbose) {
  auto fd = ConnectUnix(path, false);
  if (!fd) return Err(fd.error());
  return Submission(std::move(*fd), verbose);
}

Result<smtp::Reply> Submission::Read() {
  smtp::Reply r;
  for (;;) {
    switch (parser_.Next(&r)) {
      case smtp::ReplyParser::Status::kReply:
        if (verbose_) fprintf(stderr, "<<< %s\n", ReplyText(r).c_str());
        return r;
      case smtp::ReplyParser::Status::kError:
        return Err("bad reply from the mail system: " + parser_.error());
      case smtp::ReplyParser::Status::kNeedMore:
        break;
    }
    char buf[4096];
    ssize_t n = read(fd_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Err(std::string("read from the mail system: ") + strerror(errno));
    if (n == 0) return Err("the mail system closed the connection");
    parser_.Feed(std::string_view(buf, static_cast<size_t>(n)));
  }
}

Result<void> Submission::Send(std::string_view bytes) { return WriteAll(fd_.get(), bytes); }

Result<smtp::Reply> Submission::Command(std::string_view line) {
  if (verbose_) fprintf(stderr, ">>> %.*s\n", static_cast<int>(line.size()), line.data());
  if (auto w = WriteAll(fd_.get(), std::string(line) + "\r\n"); !w) return Err(w.error());
  return Read();
}

std::string ReplyText(const smtp::Reply& r) {
  std::string s = std::to_string(r.code);
  if (!r.enhanced.empty()) s += " " + r.enhanced;
  if (!r.lines.empty()) s += " " + std::string(r.text());
  return s;
}

int RelaySession(Submission& s) {
  pollfd p[2] = {{0, POLLIN, 0}, {s.fd(), POLLIN, 0}};
  char buf[65536];
  bool in_open = true;
  for (;;) {
    p[0].fd = in_open ? 0 : -1;
    // Once the client's input has ended, smtpd still answers what it
    // received (its last reply may wait for a queue commit) and closes after
    // QUIT; a client that left without QUIT gets its answers until smtpd
    // has been silent for a while.
    int ready = poll(p, 2, in_open ? -1 : kDrainMs);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (ready == 0) return 0;
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(s.fd(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return 0;  // the server ended the session (QUIT or timeout)
      if (!WriteAll(1, std::string_view(buf, static_cast<size_t>(n)))) return 1;
    }
    if (in_open && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = read(0, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        // Not a half-close: smtpd drops a session whose client hung up.
        in_open = false;
        continue;
      }
      if (!WriteAll(s.fd(), std::string_view(buf, static_cast<size_t>(n)))) return 1;
    }
  }
}

}  // namespace postern::sendmail
