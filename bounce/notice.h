// bounce/notice.h — what a delivery status notification says and who gets it:
// Plan() applies Postfix's rules (DSN NOTIFY, null sender, double-bounce,
// notify_classes) to one request; Compose() writes one RFC 3464 message.
// Pure functions of their inputs, so the unit tests pin every case.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "postern/ipc/bounce.h"
#include "postern/notify/notify.h"
#include "postern/util/result.h"

namespace postern::bounce {

// notify_classes (lib/notify); bounce acts on bounce, 2bounce and delay.
using enum notify::NotifyClass;
using notify::MailDate;
using notify::ParseNotifyClasses;

// Who receives what, from the configuration.
struct Addresses {
  std::string double_bounce;       // double_bounce_sender@$myorigin
  std::string bounce_rcpt;         // bounce_notice_recipient
  std::string two_bounce_rcpt;     // 2bounce_notice_recipient
  std::string delay_rcpt;          // delay_notice_recipient
  unsigned classes = kClassResource | kClassSoftware;
};

// One message to enqueue.
struct Notice {
  std::string to;               // the notice's one recipient
  std::string envelope_sender;  // "" (null sender) or the double-bounce address
  bool postmaster = false;      // a postmaster copy: no boiler-plate, all recipients
  bool headers_only = false;    // text/rfc822-headers instead of message/rfc822
  std::vector<ipc::BounceRecipient> recipients;
  std::string label;            // for the log: "sender non-delivery notification"
};

struct PlanResult {
  std::vector<Notice> notices;  // the first one is the notice qmgr hears about
  std::string discarded;        // why nothing was sent, when nothing was ("" otherwise)
};

// sender: the original envelope sender ("" = null sender); ret: queue::DsnRet.
PlanResult Plan(ipc::NoticeKind kind, std::string_view sender, uint8_t ret,
                const std::vector<ipc::BounceRecipient>& rcpts, const Addresses& a);

// Everything the text of one notice depends on.
struct ComposeInput {
  ipc::NoticeKind kind = ipc::NoticeKind::kFailed;
  const Notice* notice = nullptr;
  std::string hostname;        // myhostname
  std::string mail_name;       // "postern"
  std::string queue_id;        // the original message's id
  std::string notice_id;       // the new message's id (Message-Id, boundary)
  std::string sender;          // the original envelope sender
  std::string envid;           // DSN ENVID, may be empty
  int64_t arrival = 0;         // of the original
  int64_t now = 0;
  int64_t delay_warning = 0;   // delay_warning_time, seconds (delay notices)
  int64_t lifetime = 0;        // maximal_queue_lifetime, seconds (delay notices)
  bool eight_bit = false;      // the original is 8bit (BODY=8BITMIME or SMTPUTF8)
  std::string_view original;   // what to attach: whole message or its header block
  bool original_truncated = false;  // headers only because of bounce_size_limit
};

// The notice as stored in the queue: CRLF line ends, no dot-stuffing.
std::string Compose(const ComposeInput& in);

// The header block of a stored message, without the empty line after it.
std::string_view HeaderBlock(std::string_view message);
// "dns; mx.example" from a relay "mx.example[192.0.2.7]:25"; "" when no
// remote server was involved (none, local, a unix socket).
std::string RemoteMta(std::string_view relay);
// "smtp; 550 5.1.1 no such user" when the reason quotes a server's reply,
// else "X-Postfix; <reason>".
std::string DiagnosticCode(std::string_view reason);

}  // namespace postern::bounce
