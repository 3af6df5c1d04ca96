// ipc/control_queue.h — how `postern show queue` and `show envelope` print an
// envelope: smtpctl's `|`-separated line, one JSON object per line, or the
// detailed key: value listing. qmgr (live) and ctl (offline) share it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "postern/queue/schema.h"

namespace postern::ipc::control {

// What the scheduler knows of an envelope right now.
struct RunState {
  enum Kind { kPending, kInflight, kHeld, kCorrupt, kOffline } kind = kOffline;
  int64_t seconds = 0;  // pending: until the next try; inflight: running for
};

// mta, mda or bounce: mda for local_transport-like transports.
std::string EnvelopeType(const queue::MessageRecord& m, const queue::Envelope& e);

// id|family|type|flags|sender|orig rcpt|dest|creation|expiry|last try|attempts|runstate|error
std::string FormatQueueLine(const queue::MessageRecord& m, const queue::Envelope& e, const RunState& rs);
std::string FormatQueueJson(const queue::MessageRecord& m, const queue::Envelope& e, const RunState& rs);
// `show envelope`: one "key: value" line per field.
std::string FormatEnvelopeDetail(const queue::MessageRecord& m, const queue::Envelope& e, const RunState& rs);

// The runstate an envelope has when nobody schedules it (offline, or not in
// qmgr's memory): from its stored state and times.
RunState StoredRunState(const queue::Envelope& e, int64_t now, bool offline);

}  // namespace postern::ipc::control
