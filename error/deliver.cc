// error/deliver.cc — bounce, defer or discard a whole request with its next
// hop as the reason, as Postfix's error.c and discard.c; see deliver.h.
#include "error/deliver.h"

#include <chrono>

#include "postern/log/log.h"
#include "postern/mda/message.h"
#include "postern/queue/ids.h"
#include "postern/util/strings.h"

namespace postern::error_agent {

using mda::Verdict;

Result<Verdict> ServiceDefault(std::string_view program, const std::string& service) {
  if (program == "discard") return Verdict::Sent("");
  if (service == "error") return Verdict::Bounce("5.0.0", "");
  if (service == "retry") return Verdict::Defer("4.0.0", "");
  return Err("bad error service name: " + service + " (error bounces, retry defers)");
}

namespace {

// The Postfix function whose warning names the ignored status.
const char* AppendName(Verdict::Kind k) {
  switch (k) {
    case Verdict::Kind::kBounce: return "bounce_append";
    case Verdict::Kind::kDefer: return "defer_append";
    case Verdict::Kind::kSent: break;
  }
  return "sent";
}

}  // namespace

Verdict VerdictFor(const Verdict& service_default, std::string_view nexthop) {
  Verdict v = service_default;
  std::string dsn, rest;
  if (mda::SplitStatus(nexthop, &dsn, &rest)) {
    v.text = rest;
    if (dsn[0] == v.dsn[0]) v.dsn = dsn;
    else log::Warning("{}: ignoring dsn code \"{}\"", AppendName(v.kind), dsn);
  } else {
    v.text = std::string(Trim(nexthop));
  }
  return v;
}

std::vector<ipc::DeliveryResult> Deliver(const Verdict& service_default, const ipc::DeliveryRequest& req) {
  auto started = std::chrono::steady_clock::now();
  mda::Message m;
  m.req = req;
  m.msgid = queue::FormatMsgId(req.message_id);
  Verdict v = VerdictFor(service_default, req.nexthop);
  if (Trim(req.nexthop).empty()) {
    // Postfix's error(8) stops on this; here only this request waits.
    log::Warning("{}: empty nexthop hostname", m.msgid);
    v = Verdict::Defer("4.3.5", "mail system configuration error");
  }
  std::vector<ipc::DeliveryResult> out;
  for (const ipc::DeliveryRecipient& r : req.recipients) {
    mda::LogDelivery(m, r.address, mda::OriginalRecipient(r), "none", started, v);
    out.push_back(mda::ResultOf(r.envelope_id, v, "none"));
  }
  return out;
}

}  // namespace postern::error_agent
