// mda/copy.h — the message as a mailbox or a command receives it (Postfix's
// mail_copy): optional From_ line, Return-Path:, X-Original-To:, Delivered-To:,
// ">From " and "." escapes, a closing blank line, and the record delimiter.
#pragma once

#include <ctime>
#include <string>
#include <string_view>

namespace postern::mda {

struct CopyOptions {
  bool from_line = false;    // "From sender  date" first (mbox, commands; pipe flag F)
  bool quote_from = false;   // lines "From " → ">From " (mbox; pipe flag >)
  bool blank_line = false;   // end with an empty line (mbox; pipe flag B)
  bool return_path = true;   // Return-Path: <sender> (pipe flag R)
  std::string sender;        // envelope sender as written in From_/Return-Path, "" = null sender
  std::string delivered_to;  // Delivered-To: value, "" = none (pipe flag D)
  time_t now = 0;
  bool dot_stuff = false;    // lines "." → ".." (pipe flag .)
  std::string orig_to;       // X-Original-To: value, "" = none (pipe flag O)
  std::string eol = "\n";    // record delimiter (pipe's eol=)
};

// "From sender  Www Mmm dd hh:mm:ss yyyy\n" (asctime, local time), the null
// sender as MAILER-DAEMON.
std::string FromLine(std::string_view sender, time_t now);

// The message (LF line ends) as the destination receives it.
std::string FormatCopy(const CopyOptions& o, std::string_view message);

// Queue bodies end lines with CRLF; mailboxes and commands see LF.
std::string CrlfToLf(std::string_view body);

// An address with its local part quoted as RFC 5322 wants it when it is not
// a dot-atom (Postfix's quote_822_local): a b@example → "a b"@example.
std::string QuoteAddress(std::string_view address);

}  // namespace postern::mda
