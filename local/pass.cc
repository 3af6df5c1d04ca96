// local/pass.cc — mailbox_transport: the mailbox delivery of a local user is
// handed to another transport (Postfix's deliver_pass), e.g. a pipe(8)
// service or lmtp:unix:..., over the same delivery protocol qmgr speaks;
// that agent logs the delivery and its result is the recipient's.
#include <optional>

#include "local/deliver.h"
#include "postern/ipc/call.h"
#include "postern/log/log.h"

namespace postern::local {

namespace {

// Runs one request on a private loop: local delivers synchronously.
std::optional<ipc::DeliveryResult> Call(const std::string& path, const ipc::DeliveryRequest& req, std::string* why) {
  event::Loop loop;
  ipc::Call::Failure failure;
  auto call = ipc::Call::Connect(loop.get(), path, ipc::kDeliveryFrameMax, &failure, why);
  if (!call) return std::nullopt;
  std::optional<ipc::DeliveryResult> result;
  ipc::SendDelivery(
      *call, req, [&](const ipc::DeliveryResult& r) { result = r; },
      [&](ipc::Call::End how, const std::string& text) {
        if (how != ipc::Call::End::kDone) *why = text;
        loop.Stop();  // an agent that keeps the connection would keep the loop running
      });
  loop.Run();
  call.reset();
  loop.Run();  // the stream's close
  if (!result && why->empty()) *why = "no result";
  return result;
}

}  // namespace

Verdict RecipientDelivery::Pass(Attr& a) {
  std::string transport = s_.mailbox_transport, nexthop = msg_.req.nexthop;
  if (size_t colon = transport.find(':'); colon != std::string::npos) {
    if (colon + 1 < transport.size()) nexthop = transport.substr(colon + 1);
    transport.resize(colon);
  }
  ipc::DeliveryRequest req = msg_.req;
  req.transport = transport;
  req.nexthop = nexthop;
  ipc::DeliveryRecipient r = rcpt_;
  r.address = a.recipient;
  req.recipients = {r};
  std::string why;
  auto res = Call(s_.queue_directory + "/private/" + transport, req, &why);
  if (!res) {
    // As Postfix: a transport that cannot be reached defers, with local's line.
    log::Warning("{}: mailbox_transport {}: {}", msg_.msgid, transport, why);
    return Final(a, Verdict::Defer("4.3.0", "mail transport unavailable"));
  }
  // The other agent has logged this delivery; only the result is merged here.
  Verdict v = res->status == ipc::DeliveryStatus::kSent      ? Verdict::Sent(res->reason)
              : res->status == ipc::DeliveryStatus::kBounced ? Verdict::Bounce(res->dsn, res->reason)
                                                             : Verdict::Defer(res->dsn, res->reason);
  v.dsn = res->dsn;
  Merge(v);
  relay_ = res->relay;
  return v;
}

}  // namespace postern::local
