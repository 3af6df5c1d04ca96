// ipc/trigger.h — Postfix-style wakeup requests: connect to a trigger service's
// unix socket (qmgr, pickup) and write a few request bytes; nothing is read back.
#pragma once

#include <string>
#include <string_view>

#include "postern/util/result.h"

namespace postern::ipc {

// Postfix's request bytes.
inline constexpr char kWakeup = 'W';            // TRIGGER_REQ_WAKEUP: "look for work"
inline constexpr char kQmgrScanIncoming = 'I';  // QMGR_REQ_SCAN_INCOMING
inline constexpr char kQmgrScanAll = 'A';       // QMGR_REQ_SCAN_ALL: ignore next-attempt times
inline constexpr char kQmgrFlushDead = 'F';     // QMGR_REQ_FLUSH_DEAD: forget dead destinations

enum class Wait { kNever, kForRoom };

// Writes `request` to the service at socket_path. Wait::kNever (daemons on an
// event loop) uses a non-blocking connect and write on a unix socket, which
// complete at once or fail (EAGAIN: the listener's backlog is full).
// Wait::kForRoom (commands) blocks until the listener takes the connection.
// A trigger that does not arrive costs only latency, since every trigger
// service also wakes up on a timer. *err, when given, gets the errno of a
// failure (0 for one without, such as a too long path).
Result<void> Trigger(const std::string& socket_path, std::string_view request, Wait wait = Wait::kNever,
                     int* err = nullptr);

// $queue_directory/public/qmgr.
std::string QmgrSocket(const std::string& queue_directory);

// Tells qmgr that new mail is in the queue; never blocks. A failure is
// logged at verbose level only (qmgr's periodic scan finds the mail anyway).
// Returns whether the request was handed over.
bool TriggerQmgr(const std::string& queue_directory, std::string_view request = {&kQmgrScanIncoming, 1});

}  // namespace postern::ipc
