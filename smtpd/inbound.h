// smtpd/inbound.h — smtpf's statistics per inbound route: accepted and
// rejected recipients and the volume of accepted mail per recipient domain,
// or per the route that route_maps gives that domain, in the statistics
// database (inbound.accept, inbound.reject, inbound.bytes per route and hour;
// `postern show stats --routes --inbound`). Also the per-check names of the
// smtp.check.CHECK.reject counters.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "postern/config/maincf.h"
#include "postern/queue/queue.h"
#include "postern/table/table.h"
#include "postern/util/result.h"

namespace postern::smtpd {

class InboundRoutes {
 public:
  static Result<InboundRoutes> Load(const config::Config& cfg);

  // The route of a recipient address: route_maps' value for its domain, else
  // the domain (lower case); "" for an address without one.
  std::string RouteOf(std::string_view address) const;
  void Accepted(const std::vector<queue::Recipient>& rcpts, uint64_t bytes) const;
  void Rejected(std::string_view address) const;

 private:
  std::shared_ptr<table::TableList> maps_;
};

// The check a restriction step belongs to in smtp.check.CHECK.reject:
// relay (…_unauth_destination), dnsbl (the DNS lists), else the step's name.
std::string CheckClass(std::string_view step);

}  // namespace postern::smtpd
