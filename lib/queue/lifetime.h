// queue/lifetime.h — how long a message may stay queued: maximal_queue_lifetime,
// or bounce_queue_lifetime for the null sender. The one source of an envelope's expiry.
#pragma once

#include <cstdint>

#include "postern/queue/schema.h"
#include "postern/util/result.h"

namespace postern::config {
class Config;
}

namespace postern::queue {

struct Lifetimes {
  int64_t message = 5 * 86400;  // maximal_queue_lifetime
  int64_t bounce = 5 * 86400;   // bounce_queue_lifetime (null sender)

  static Result<Lifetimes> FromConfig(const config::Config& cfg);
  // When the message's recipients stop being retried and are returned.
  int64_t ExpiryOf(const MessageRecord& m) const { return m.arrival + (m.sender.empty() ? bounce : message); }
};

}  // namespace postern::queue
