// smtp/loop.cc — mail that would loop back to this host, as Postfix's smtp
// client decides it: the MX list cut below our own preference, "mail for D
// loops back to myself" (5.4.6), or the request passed on to best_mx_transport.
#include <algorithm>

#include "postern/log/log.h"
#include "postern/route/route.h"
#include "smtp/delivery.h"
#include "smtp/self_mx.h"

namespace postern::smtp_client {

// Postfix checks only SMTP to the standard port: a server on another port of
// our own address (a content filter, a test sink) is another service.
bool Delivery::LoopDetect() const {
  if (s_.lmtp) return false;
  auto standard = route::ParsePort(s_.tcp_port);
  return standard && hop_.port == *standard;
}

// True when the request has been answered (or handed on).
bool Delivery::CheckSelfMx(dns::MxResult* r) {
  if (!LoopDetect()) return false;
  SelfCheck c = CheckMxHosts(r->hosts, s_.own, hop_.host);
  if (!c.found_self) return false;
  // We are an MX host: only better ones may get the mail, never a fallback relay.
  final_nexthop_ = true;
  r->hosts.resize(c.keep);
  if (c.dsn.empty()) return false;
  Looped(c.dsn, c.reason);
  return true;
}

bool Delivery::CheckSelfHost(const dns::AddressResult& r) {
  if (!LoopDetect()) return false;
  SelfCheck c = CheckHost(r.addresses, s_.own, hop_.host);
  if (!c.found_self) return false;
  final_nexthop_ = true;
  Looped(c.dsn, c.reason);
  return true;
}

void Delivery::Looped(const std::string& dsn, const std::string& reason) {
  std::string status = dsn;
  if (dsn[0] == '5') {
    // A relay we were told to use must not loop: the configuration is wrong,
    // so the mail waits for the admin instead of bouncing.
    if (in_fallback_) {
      log::Warning("smtp_fallback_relay configuration problem");
      status = "4.3.5";
    } else if (!s_.relayhost.empty() && req_.nexthop == s_.relayhost) {
      log::Warning("relayhost configuration problem");
      status = "4.3.5";
    } else if (!s_.best_mx_transport.empty()) {
      return PassToBestMx();
    }
  }
  bool bounce = status[0] == '5';
  SetAllOpen(bounce ? ipc::DeliveryStatus::kBounced : ipc::DeliveryStatus::kDeferred, status, reason, "none");
  Finish(false);
}

// Postfix's deliver_pass_all: the whole request goes to best_mx_transport
// ("transport" or "transport:nexthop"), whose results are ours to report.
void Delivery::PassToBestMx() {
  route::Route to = route::ParseSpec(s_.best_mx_transport);
  ipc::DeliveryRequest req = req_;
  req.transport = to.transport;
  if (!to.nexthop.empty()) req.nexthop = to.nexthop;
  ipc::Call::Failure failure;
  std::string why;
  pass_ = ipc::Call::Connect(w_.ctx->loop, s_.queue_directory + "/private/" + to.transport, ipc::kDeliveryFrameMax,
                             &failure, &why);
  if (!pass_) {
    log::Warning("best_mx_transport {}: {}", s_.best_mx_transport, why);
    SetAllOpen(ipc::DeliveryStatus::kDeferred, "4.3.0", "mail transport unavailable", "none");
    return Finish(false);
  }
  log::Info("{}: passing <{}> to transport={}", msgid_, hop_.host, to.transport);
  passed_.assign(results_.size(), false);
  auto self = shared_from_this();
  // The call lives in this Delivery; its result callback cannot outlive it.
  ipc::SendDelivery(
      *pass_, req,
      [this](const ipc::DeliveryResult& r) {
        for (size_t i = 0; i < req_.recipients.size(); ++i) {
          if (req_.recipients[i].envelope_id != r.envelope_id || results_[i]) continue;
          results_[i] = r;
          passed_[i] = true;
          break;
        }
      },
      [self](ipc::Call::End how, const std::string& w) { self->OnPassEnd(how, w); }, 0,
      [this](const ipc::ConnectionFact& c) { Forward(c); });
}

void Delivery::OnPassEnd(ipc::Call::End how, const std::string& why) {
  if (how == ipc::Call::End::kCrashed) {
    log::Warning("{}: transport {} failed on a delivery request: {}", msgid_,
                 route::ParseSpec(s_.best_mx_transport).transport, why);
    SetAllOpen(ipc::DeliveryStatus::kDeferred, "4.3.0", "unknown mail transport error", "none");
  }
  Finish(false);
}

}  // namespace postern::smtp_client
