// smtpd/inbound.cc — inbound route statistics; see inbound.h.
#include "smtpd/inbound.h"

#include "postern/log/limited.h"
#include "postern/stats/recorder.h"
#include "postern/util/strings.h"
#include "smtpd/abuse.h"

namespace postern::smtpd {

Result<InboundRoutes> InboundRoutes::Load(const config::Config& cfg) {
  InboundRoutes r;
  auto maps = OptionalTables(cfg, "route_maps");
  if (!maps) return Err(maps.error());
  r.maps_ = std::move(*maps);
  return r;
}

std::string InboundRoutes::RouteOf(std::string_view address) const {
  size_t at = address.rfind('@');
  if (at == std::string_view::npos || at + 1 == address.size()) return "";
  std::string domain = ToLower(address.substr(at + 1));
  if (!maps_) return domain;
  auto v = table::LookupDomain(*maps_, domain);
  if (!v) {
    static log::LimitedWarning w(std::chrono::minutes(1));
    w.Warn("route_maps: {}", v.error());
    return domain;
  }
  return v->has_value() ? **v : domain;
}

void InboundRoutes::Accepted(const std::vector<queue::Recipient>& rcpts, uint64_t bytes) const {
  for (const queue::Recipient& r : rcpts) {
    std::string route = RouteOf(r.address);
    if (route.empty()) continue;
    stats::CountRoute(route, "inbound.accept");
    stats::CountRoute(route, "inbound.bytes", bytes);
  }
}

void InboundRoutes::Rejected(std::string_view address) const {
  std::string route = RouteOf(address);
  if (!route.empty()) stats::CountRoute(route, "inbound.reject");
}

std::string CheckClass(std::string_view step) {
  if (step.find("unauth_destination") != std::string_view::npos) return "relay";
  if (step.find("rbl") != std::string_view::npos || step.find("dnswl") != std::string_view::npos) return "dnsbl";
  return std::string(step);
}

}  // namespace postern::smtpd
