// smtpd/notify.h — which notify_classes class an error reply of smtpd belongs
// to (Postfix's error_mask in smtpd.c/smtpd_check.c); the session's
// transcript and the notice itself are in notify.cc.
#pragma once

#include <cstdint>
#include <string_view>

#include "postern/notify/notify.h"
#include "postern/queue/status.h"

namespace postern::smtpd {

// The classes smtpd reports on (Postfix: bounce, policy, protocol, resource, software).
inline constexpr unsigned kSmtpdClasses = notify::kClassBounce | notify::kClassPolicy | notify::kClassProtocol |
                                          notify::kClassResource | notify::kClassSoftware;

// Postmaster notices one smtpd process sends per window, at most.
inline constexpr unsigned kNoticeBurst = 10;
inline constexpr int64_t kNoticeWindowSeconds = 60;

// The class of a reply by its codes, for the replies that do not say
// otherwise: 0 for replies that are no error of the client or of ours
// (2xx/3xx, 421 timeouts and disconnections).
unsigned ErrorClass(int code, std::string_view enhanced);

// A failed queue write: the disk or the map (resource), anything else (software).
unsigned QueueErrorClass(queue::Code code);

}  // namespace postern::smtpd
