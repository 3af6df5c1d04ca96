// showq/showq.h — Postfix's view of postern's queue (what Postfix's showq
// daemon serves): the one mapping of envelope states to Postfix queue names,
// a paged walk over the messages, and the listings built on them: mailq's
// (sendmail -bp, postqueue -p) and postqueue -j's JSON lines.
#pragma once

#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postern/config/maincf.h"
#include "postern/queue/queue.h"
#include "postern/util/result.h"

namespace postern::showq {

// Postfix keeps a message in one queue directory; postern keeps a state per
// envelope. A message is in the first of these its envelopes allow:
//   active    any envelope in flight (mailq's "*")
//   hold      else any envelope held (mailq's "!")
//   deferred  else any envelope waiting for a retry
//   incoming  else any envelope not yet seen by qmgr
//   corrupt   every envelope corrupt (listings leave it out)
// maildrop is Postfix's name for mail sendmail left while the system was down
// (lib/maildrop); it has no queue ids and is not in the queue file.
enum class QueueName { kMaildrop, kIncoming, kActive, kDeferred, kHold, kCorrupt };
std::string_view Name(QueueName q);
std::optional<QueueName> ParseQueueName(std::string_view s);
// nullopt for a message without envelopes (removed meanwhile).
std::optional<QueueName> QueueOf(const std::vector<queue::Envelope>& envs);

// Each message in queue id order with its envelopes, a page per read
// transaction; `each` returns false to stop. Fails on a queue read error.
using MessageFn = std::function<bool(const queue::MessageRecord&, const std::vector<queue::Envelope>&)>;
queue::Status ForEachMessage(queue::Queue& q, const MessageFn& each);

// Opens the queue of `cfg` for reading; nullptr (and ok) when it was never
// created, so that a listing does not create it.
Result<std::unique_ptr<queue::Queue>> OpenExisting(const config::Config& cfg);

// mailq's listing of `q` to `out`; false on a read error (reported on stderr).
bool ListQueue(queue::Queue& q, FILE* out);
// Opens the queue of `cfg` and lists it; 0, or 75 (EX_TEMPFAIL) on an error.
int Mailq(const config::Config& cfg);

// asctime(localtime(when)), with its line end: "Mon Nov 23 09:12:01 2026\n".
std::string AscTime(int64_t when);

// postqueue -j: one JSON object per message, Postfix's fields.
std::string FormatJson(const queue::MessageRecord& m, const std::vector<queue::Envelope>& envs, QueueName q);
bool ListJson(queue::Queue& q, FILE* out);

}  // namespace postern::showq
