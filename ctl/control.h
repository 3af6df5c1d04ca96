// ctl/control.h — the client end of the control channel (ipc/control.h): the
// smtpctl-style commands that master, qmgr or the workers answer. Other
// command sets reuse RunRemote (send the command's words and its arguments,
// print the answer) or Call for a custom exchange.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ctl/commands.h"
#include "postern/util/result.h"

namespace postern::ctl {

// $queue_directory/public/control
std::string ControlPath(const config::Config& cfg);

// Sends one request; on_text gets the answer's text as it streams in. The
// result is the answer's end: ok, or the error text; NotRunning(error) when
// no master listens.
Result<void> Call(const config::Config& cfg, const std::vector<std::string>& words,
                  const std::function<void(std::string_view)>& on_text);
bool NotRunning(const std::string& error);

// Sends one queue command (`schedule ID`, `remove ID`, ...) and returns the
// N of its "N envelope(s) <done>" answer.
Result<size_t> CallCount(const config::Config& cfg, const std::vector<std::string>& words);

// The command's words and ctx.args, answer to stdout; exit status.
int RunRemote(Context& ctx);

const std::vector<Command>& ControlCommands();

}  // namespace postern::ctl
