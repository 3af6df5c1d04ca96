// error/deliver.h — Postfix's error(8) and discard(8) delivery agents: each
// recipient of a request bounces (service `error`), is deferred (service
// `retry`) or is discarded as delivered (program `discard`), with the
// request's next hop as the reason, "5.7.1 go away" from transport_maps'
// `error:5.7.1 go away`. No mail is read or written.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "postern/ipc/delivery.h"
#include "postern/mda/verdict.h"
#include "postern/util/result.h"

namespace postern::error_agent {

// The status every recipient gets: program discard (any service name):
// 2.0.0 sent; program error by `service`: error 5.0.0 bounce, retry 4.0.0
// defer, an error for any other service name.
Result<mda::Verdict> ServiceDefault(std::string_view program, const std::string& service);

// Postfix's dsn_split and bounce_append/defer_append/sent: a leading status
// in `nexthop` replaces the default one when its class agrees (else it is
// ignored with a warning); the rest is the reason.
mda::Verdict VerdictFor(const mda::Verdict& service_default, std::string_view nexthop);

// One result and one log line per recipient.
std::vector<ipc::DeliveryResult> Deliver(const mda::Verdict& service_default, const ipc::DeliveryRequest& req);

}  // namespace postern::error_agent
