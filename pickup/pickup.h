// pickup/pickup.h — moves messages that sendmail left in the maildrop
// directory (while the mail system was down, or written by root or the queue
// owner) into the queue, then removes them. See pickup(8).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "postern/cleanup/cleanup.h"
#include "postern/config/maincf.h"
#include "postern/maildrop/maildrop.h"
#include "postern/milter/spec.h"
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
  // non_smtpd_milters: the cleaned and checked content through the milters,
  // their edits, then Enqueue.
  Outcome Filter(const std::string& name, std::unique_ptr<cleanup::Message> m, const maildrop::Envelope& env);
  // The recipients into the message (cleanup rewrites them), then the commit:
  // logs Postfix's "uid=... from=<...>" line and removes the maildrop file.
  Outcome Enqueue(const std::string& name, std::unique_ptr<cleanup::Message> m, const maildrop::Envelope& env,
                  const std::vector<std::string>& rcpts);
  static Outcome QueueTrouble(const std::string& what, const queue::Status& st);  // logged; kStop when out of space
  // Returns the message to its sender with this status and text (5.4.0 too many hops, a milter's 5xx).
  Outcome Bounce(const std::string& name, std::unique_ptr<cleanup::Message> m, int64_t arrival,
                 const std::string& dsn, const std::string& text);
  // A REJECT of header/body checks: a 5.x.x reason bounces, a 4.x.x one waits.
  Outcome Refuse(const std::string& name, std::unique_ptr<cleanup::Message> m, int64_t arrival,
                 const cleanup::Verdict& v);
  void SetAside(const std::string& name, const std::string& why);

  std::string qdir_, dir_, myhostname_, mail_name_;
  Result<milter::Settings> milters_;  // non_smtpd_milters, macros, timeouts
  std::shared_ptr<const milter::Settings> milter_settings_;
  std::unique_ptr<queue::Queue> queue_;
  Result<std::unique_ptr<cleanup::Cleanup>> cleanup_;  // uses queue_
};

}  // namespace postern::pickup
