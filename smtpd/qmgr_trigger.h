// smtpd/qmgr_trigger.h — tells qmgr that new mail is in the queue, Postfix
// style: connect to $queue_directory/public/qmgr and write one request byte.
#pragma once

#include <string>

namespace postern::smtpd {

// The request byte: Postfix's QMGR_REQ_SCAN_INCOMING ("scan the incoming queue").
inline constexpr char kQmgrScanIncoming = 'I';

// Never blocks (non-blocking connect and write on a unix socket) and never
// fails loudly: when qmgr is not there or busy, its periodic scan finds the
// mail anyway, so the problem is logged at verbose level only. Returns
// whether the byte was handed over.
bool TriggerQmgr(const std::string& queue_directory, char request = kQmgrScanIncoming);

}  // namespace postern::smtpd
