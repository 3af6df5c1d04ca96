// ctl/check_agents.h — `postern check` on the delivery agents that mail is
// routed to by name: the service of virtual_transport and virtual(8)'s own
// settings, the names error(8) serves.
#pragma once

#include <string>
#include <vector>

#include "ctl/lifecycle.h"
#include "postern/config/mastercf.h"

namespace postern::ctl {

void CheckDeliveryAgents(const config::Config& cfg, const std::string& master_cf,
                         const std::vector<config::MasterService>& defs, std::vector<Problem>* out);

}  // namespace postern::ctl
