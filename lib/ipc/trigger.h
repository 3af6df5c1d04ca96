// ipc/trigger.h — Postfix-style wakeup requests: connect to a trigger service's
// unix socket (qmgr, pickup) and write a few request bytes; nothing is read back.
#pragma once

#include <string>
#include <string_view>

#include "util/result.h"

namespace postern::ipc {

// Postfix's request bytes.
inline constexpr char kWakeup = 'W';          // TRIGGER_REQ_WAKEUP: "look for work"
inline constexpr char kQmgrScanIncoming = 'I';  // QMGR_REQ_SCAN_INCOMING

// Never blocks: a non-blocking connect and write on a unix socket, which
// complete at once or fail (EAGAIN: the listener's backlog is full). A
// trigger that does not arrive costs only latency, since every trigger
// service also wakes up on a timer; callers usually log failures verbosely.
Result<void> Trigger(const std::string& socket_path, std::string_view request);

}  // namespace postern::ipc
