// sendmail/submit.h — the client side of local submission: a blocking SMTP
// conversation with smtpd over $queue_directory/public/submit, and the -bs
// relay between stdin/stdout and that socket.
#pragma once

#include <string>
#include <string_view>

#include "postern/smtp/reply.h"
#include "postern/util/fd.h"
#include "postern/util/result.h"

namespace postern::sendmail {

// A connected submission socket; closes itself.
class Submission {
 public:
  static Result<Submission> Connect(const std::string& path, bool verbose);
  Submission(Submission&&) noexcept = default;

  int fd() const { return fd_.get(); }
  // Reads the next complete reply.
  Result<smtp::Reply> Read();
  // Sends bytes as they are (commands end in CRLF); buffered by the caller.
  Result<void> Send(std::string_view bytes);
  // Sends one command and reads its reply.
  Result<smtp::Reply> Command(std::string_view line);

 private:
  Submission(Fd fd, bool verbose) : fd_(std::move(fd)), verbose_(verbose) {}
  Fd fd_;
  bool verbose_;
  smtp::ReplyParser parser_;
};

// "550 5.1.1 text" for error messages.
std::string ReplyText(const smtp::Reply& r);

// -bs: copies stdin to the socket and the socket to stdout until either side ends.
int RelaySession(Submission& s);

}  // namespace postern::sendmail
