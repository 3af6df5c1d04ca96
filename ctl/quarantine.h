// ctl/quarantine.h — `postern show quarantine`, `release ID` and `remove ID`
// for messages refused after their content was received (smtpd_save_rejected).
#pragma once

#include <vector>

#include "ctl/commands.h"

namespace postern::ctl {

const std::vector<Command>& QuarantineCommands();
// `postern remove Q...`: a quarantine id (control.cc's remove hands it over).
bool IsQuarantineArg(const Context& ctx);
int RemoveQuarantined(Context& ctx);

}  // namespace postern::ctl
