// tests/tools/qtool.h — the test-only queue tool's shared parts: the opened
// queue each subcommand works on and the helpers several of them use.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "postern/queue/queue.h"

namespace postern::qtool {

// Exit codes: 1 a failure, 2 bad usage or no queue, 3 the queue refused for
// lack of storage (what the storage tests wait for).
inline constexpr int kFailed = 1, kUsage = 2, kInsufficient = 3;

struct Context {
  std::string queue_dir;
  queue::Options options;
  std::unique_ptr<queue::Queue> queue;
  std::vector<std::string> args;  // after the subcommand's name
};

// Prints "qtool: what" on stderr and returns `code`.
int Fail(const std::string& what, int code = kFailed);
int ExitCode(const queue::Status& s);  // kInsufficient or kFailed

// One message: body, recipients, commit. The id once durable.
queue::Outcome<queue::MsgId> Put(queue::Queue& q, queue::MessageRecord rec, std::string_view body,
                                 const std::vector<queue::Recipient>& rcpts);
// A message's whole body, or why not.
queue::Outcome<std::string> ReadBody(queue::Queue& q, queue::MsgId id);

// Subcommands on messages (messages.cc).
int Inject(Context& c);
int Enqueue(Context& c);
int List(Context& c);
int Hold(Context& c);
int Dump(Context& c);
// Subcommands of the crash, concurrency and storage tests (stress.cc).
int Flood(Context& c);
int Verify(Context& c);
int Scan(Context& c);
int Remove(Context& c);

}  // namespace postern::qtool
