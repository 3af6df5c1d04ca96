// bounce/service.h — the bounce daemon's work for one request: read the
// original from the queue, plan the notices, compose each one and enqueue it
// through cleanup.
// Synchronous on purpose: bounce is a kSingle worker, one request at a time.
#pragma once

#include <memory>
#include <string>

#include "bounce/notice.h"
#include "postern/cleanup/cleanup.h"
#include "postern/config/maincf.h"
#include "postern/ipc/bounce.h"
#include "postern/queue/queue.h"
#include "postern/util/result.h"

namespace postern::bounce {

struct Settings {
  std::string queue_directory, hostname, mail_name, myorigin;
  Addresses addresses;
  uint64_t size_limit = 50000;  // bounce_size_limit
  int64_t delay_warning = 0;    // delay_warning_time
  int64_t lifetime = 5 * 86400; // maximal_queue_lifetime

  static Result<Settings> FromConfig(const config::Config& cfg);
};

// "postmaster" -> "postmaster@$myorigin", as Postfix's cleanup qualifies bare names.
std::string Qualify(const std::string& addr, const std::string& origin);

class Service {
 public:
  // Notices enter the queue through `cleanup`, which uses `q`.
  Service(Settings s, std::unique_ptr<queue::Queue> q, std::unique_ptr<cleanup::Cleanup> c)
      : s_(std::move(s)), q_(std::move(q)), cleanup_(std::move(c)) {}
  ipc::BounceAnswer Handle(const ipc::BounceRequest& req);
  // `postern set option`: the next notice uses these (the queue stays).
  void Adopt(Settings s) {
    s.queue_directory = s_.queue_directory;
    s_ = std::move(s);
  }

 private:
  // The original as attached: the whole message, or its header block when
  // RET=HDRS asks for it or the message exceeds bounce_size_limit.
  queue::Outcome<std::string> Original(queue::MsgId id, uint64_t size, bool headers_only);
  queue::Outcome<queue::MsgId> Enqueue(const ipc::BounceRequest& req, const queue::MessageRecord& orig,
                                       const Notice& n);

  Settings s_;
  std::unique_ptr<queue::Queue> q_;
  std::unique_ptr<cleanup::Cleanup> cleanup_;
};

}  // namespace postern::bounce
