// mda/message.h — what a delivery agent on this host (local, pipe) needs of
// one queued message: its body (CRLF and LF forms) with the Delivered-To:
// values for loop detection, a recipient's original address, and Postfix's
// "to=<...>, relay=..., status=..." line for each final delivery.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "postern/ipc/delivery.h"
#include "postern/mda/verdict.h"
#include "postern/queue/queue.h"
#include "postern/util/result.h"

namespace postern::mda {

// The message as every destination sees it.
struct Message {
  ipc::DeliveryRequest req;
  std::string msgid;  // 8 hex digits, for log lines
  std::string raw;    // the queue body (CRLF)
  std::string lf;     // the same with LF line ends
  std::vector<std::string> delivered_to;  // Delivered-To: values of the header, lower case
};

// The queue an agent reads its messages from: `dir`, opened with main.cf's
// queue options; the error names the directory.
Result<std::unique_ptr<queue::Queue>> OpenQueue(const config::Config& cfg, const std::string& dir);

// Loads the body and the Delivered-To: headers; an error text means "defer".
std::string LoadMessage(queue::Queue& q, Message* m);

// The recipient before any rewriting: its DSN ORCPT ("rfc822;a+40b", xtext
// decoded), else the address itself.
std::string OriginalRecipient(const ipc::DeliveryRecipient& r);

// Logs `ID: to=<rcpt>[, orig_to=<orig>], relay=R, delay=, delays=, dsn=, status= (text)`.
// `orig` is left out when it equals `rcpt` (case-insensitively).
void LogDelivery(const Message& m, std::string_view rcpt, std::string_view orig, std::string_view relay,
                 std::chrono::steady_clock::time_point started, const Verdict& v);

// The queue's result for qmgr.
ipc::DeliveryResult ResultOf(uint64_t envelope_id, const Verdict& v, std::string relay);

}  // namespace postern::mda
