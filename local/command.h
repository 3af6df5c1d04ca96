// local/command.h — delivery to a command: /bin/sh -c with a clean
// environment, the message on standard input, output kept for the bounce
// text, a time limit, and the exit status mapped as Postfix maps sysexits.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "local/privs.h"
#include "local/verdict.h"

namespace postern::local {

struct CommandSpec {
  std::string command;               // given to /bin/sh -c: written by the administrator or the user
  std::optional<Creds> as;           // the child's user when the process is privileged
  std::vector<std::string> env;      // NAME=value, already filtered
  std::string cwd = "/";
  long long time_limit_seconds = 1000;
};

// Runs the command with `input` on its standard input. Sent: exit 0.
// Deferred: EX_TEMPFAIL/EX_OSERR, a signal, a failure to start. Bounced:
// other exit statuses and the time limit, with the command's first output
// in the text.
Verdict RunCommand(const CommandSpec& spec, std::string_view input);

// The exit status of a command as Postfix's sys_exits explains it.
Verdict ExitVerdict(int wait_status, std::string_view output);

}  // namespace postern::local
