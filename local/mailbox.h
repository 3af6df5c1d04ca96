// local/mailbox.h — writing one message into a mailbox: the bytes of an mbox
// entry ("From " line, Return-Path, Delivered-To, >From quoting, blank line),
// a Maildir file (tmp/ → fsync → new/), and locked mbox appends (fcntl,
// flock, dotlock) that undo a partial write.
#pragma once

#include <sys/types.h>

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "local/verdict.h"

namespace postern::local {

struct CopyOptions {
  bool from_line = false;    // "From sender  date" first (mbox, commands)
  bool quote_from = false;   // body lines "From " → ">From " (mbox)
  bool blank_line = false;   // end with an empty line (mbox)
  bool return_path = true;   // Return-Path: <sender>
  std::string sender;        // envelope sender, "" = null sender
  std::string delivered_to;  // Delivered-To: value, "" = none
  time_t now = 0;
};

// "From sender  Www Mmm dd hh:mm:ss yyyy\n" (asctime, local time), the null
// sender as MAILER-DAEMON.
std::string FromLine(std::string_view sender, time_t now);

// The message (LF line ends) as the destination receives it.
std::string FormatCopy(const CopyOptions& o, std::string_view message);

// Queue bodies end lines with CRLF; mailboxes and commands see LF.
std::string CrlfToLf(std::string_view body);

struct MboxLocks {
  bool fcntl = true, flock = false, dotlock = true;
};

// Appends `data` to the mbox file `path`, creating it (mode 0600) when
// missing and giving it to `owner` when set (a spool file created with
// root's rights). Fails with 5.2.2 beyond `size_limit` (0: none) and
// truncates a partial write away.
Verdict AppendMbox(const std::string& path, std::string_view data, const MboxLocks& locks, uint64_t size_limit,
                   std::optional<std::pair<uid_t, gid_t>> owner);

// Delivers `data` into the Maildir `dir` (ending in '/'), creating dir,
// tmp/, new/ and cur/ (mode 0700) when missing.
Verdict WriteMaildir(const std::string& dir, std::string_view data, std::string_view hostname);

}  // namespace postern::local
