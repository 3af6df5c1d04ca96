// maildrop/maildrop.h — the maildrop directory ($queue_directory/maildrop):
// where `sendmail` leaves a message while the mail system is down, and where
// the pickup service finds it and moves it into the queue.
//
// One file per message, written as "tmp.NAME", fsynced, renamed to NAME and
// the directory fsynced: a file whose name lacks the "tmp." prefix is whole.
// Its format (text envelope, then the content exactly as the queue stores
// it: CRLF line ends, no dot-stuffing):
//
//   postern-maildrop 1
//   uid 1000                   the submitting user (kernel-reported by sendmail)
//   time 1795425121            arrival, seconds since the epoch
//   sender alice@example.org   (nothing after "sender ": the null sender)
//   rcpt bob@example.net       one line per recipient
//   notify 6                   optional: DSN NOTIFY bits (queue::Notify)
//   ret 2                      optional: DSN RET (queue::DsnRet)
//   envid xyz                  optional: DSN ENVID, decoded
//   flags 1                    optional: queue::MessageFlag bits
//                              (empty line)
//   content...
//
// Who may write there (see sendmail(1)): the directory is mode 0700 and
// belongs to the owner of $queue_directory, so only that user and root can
// drop mail; everyone else submits through the submit socket.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postern/event/event.h"
#include "postern/queue/schema.h"
#include "postern/util/result.h"

namespace postern::maildrop {

inline constexpr std::string_view kMagic = "postern-maildrop 1";
inline constexpr std::string_view kTempPrefix = "tmp.";
inline constexpr std::string_view kCorruptPrefix = "corrupt.";
inline constexpr size_t kMaxRecipients = 10000;
inline constexpr size_t kMaxEnvelopeBytes = 4 << 20;

struct Envelope {
  uid_t uid = 0;
  int64_t time = 0;
  std::string sender;  // empty: the null sender
  std::vector<std::string> recipients;
  uint8_t notify = 0;  // queue::Notify bits for every recipient; 0 = not given
  queue::DsnRet ret = queue::DsnRet::kUnset;
  std::string envid;
  uint32_t flags = 0;  // queue::MessageFlag
};

// The envelope text (up to and including the empty line); fails on an
// address or ENVID that would break the format (control characters, too long).
Result<std::string> FormatEnvelope(const Envelope& env);
// Parses an envelope text (without the empty line).
Result<Envelope> ParseEnvelope(std::string_view text);

// Who files and the directory belong to when root writes them.
struct Owner {
  uid_t uid = 0;
  gid_t gid = 0;
};

// Creates dir (mode 0700) when missing; as root, hands it to `owner`.
Result<void> EnsureDir(const std::string& dir, std::optional<Owner> owner);

// One message being written into the maildrop; destroying it without
// Commit() removes the temporary file.
class Writer {
 public:
  // Opens tmp.NAME in dir and writes the envelope. As root, the file goes to
  // `owner` (pickup runs as that user and must read and remove it).
  static Result<Writer> Create(const std::string& dir, const Envelope& env, std::optional<Owner> owner);
  Writer(Writer&&) noexcept = default;
  Writer& operator=(Writer&&) noexcept = default;
  ~Writer();

  // Content, buffered into large writes.
  Result<void> Append(std::string_view data);
  uint64_t content_size() const { return content_size_; }
  // Flushes, fsyncs, renames into place and fsyncs the directory; returns
  // the final path.
  Result<std::string> Commit();

 private:
  Writer() = default;
  Result<void> Flush();

  std::string dir_, name_;
  Fd fd_, dir_fd_;
  std::string buf_;
  uint64_t content_size_ = 0;
  bool committed_ = false;
};

// One maildrop file opened for pickup: the envelope, then the content in pieces.
class Reader {
 public:
  static Result<Reader> Open(const std::string& path);
  const Envelope& envelope() const { return env_; }
  // The next piece of content into *out (replaced); false at the end.
  Result<bool> Next(std::string* out);

 private:
  Reader() = default;
  Fd fd_;
  Envelope env_;
  std::string pending_;  // content read together with the envelope
};

}  // namespace postern::maildrop
