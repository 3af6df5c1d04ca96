// pickup/pickup.h — moves messages that sendmail left in the maildrop
// directory (while the mail system was down, or written by root or the queue
// owner) into the queue, then removes them. See pickup(8).
#pragma once

#include <memory>
#include <string>

#include "postern/cleanup/cleanup.h"
#include "postern/config/maincf.h"
#include "postern/queue/queue.h"
#include "postern/util/result.h"

namespace postern::pickup {

class Pickup {
 public:
  Pickup(const config::Config& cfg, std::unique_ptr<queue::Queue> q);

  // Creates the maildrop directory when missing (mode 0700, ours); fails on
  // a cleanup parameter (hopcount_limit, ...) out of range.
  Result<void> Prepare();
  // Takes every whole file now in the maildrop; returns how many were
  // queued. Stops early when the queue is out of space (the rest waits).
  int Scan();

 private:
  enum class Outcome { kQueued, kLeft, kStop };
  Outcome Take(const std::string& name);
  Outcome Bounce(const std::string& name, std::unique_ptr<cleanup::Message> m, int64_t arrival,
                 const std::string& dsn, const std::string& text);
  Outcome Refuse(const std::string& name, std::unique_ptr<cleanup::Message> m, int64_t arrival,
                 const cleanup::Verdict& v);
  void SetAside(const std::string& name, const std::string& why);

  std::string qdir_, dir_, myhostname_, mail_name_;
  std::unique_ptr<queue::Queue> queue_;
  Result<std::unique_ptr<cleanup::Cleanup>> cleanup_;  // uses queue_
};

}  // namespace postern::pickup
