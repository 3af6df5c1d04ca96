// mda/command.h — delivery to a command, as Postfix's pipe_command: a child
// that gives up root for good, a clean environment, the message on standard
// input, output kept for the bounce text, a time limit, and the exit status
// mapped as Postfix maps sysexits. local runs `/bin/sh -c command`; pipe
// runs an argument vector directly, never through a shell.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postern/mda/privs.h"
#include "postern/mda/verdict.h"

namespace postern::mda {

struct CommandSpec {
  std::string command;               // for /bin/sh -c (argv empty), and the name in status texts
  std::vector<std::string> argv;     // when set: executed directly (a name without '/' is searched in PATH)
  std::optional<Creds> as;           // the child's user when the process is privileged
  bool only_gid = false;             // supplementary groups: as->gid alone (pipe), else initgroups
  std::vector<std::string> env;      // NAME=value, already filtered
  std::string cwd = "/";
  bool cwd_required = false;         // a cwd that cannot be entered defers (pipe), else "/" is used
  std::string chroot;                // pipe's chroot=: entered before the ids change
  long long time_limit_seconds = 1000;
};

// Runs the command with `input` on its standard input. Sent: exit 0.
// Deferred: EX_TEMPFAIL/EX_OSERR, a signal, a failure to start. Bounced:
// other exit statuses and the time limit, with the command's first output
// in the text; output that starts with an enhanced status code decides.
Verdict RunCommand(const CommandSpec& spec, std::string_view input);

// The exit status of `command` as Postfix's pipe_command explains it.
Verdict ExitVerdict(int wait_status, std::string_view output, std::string_view command = {});

// Postfix's command environment: export_environment (NAME from our own
// environment, or NAME=value), PATH=/usr/bin:/bin, and HOME, LOGNAME, USER,
// SHELL of `pw` when given.
std::vector<std::string> CommandEnvironment(const std::vector<std::string>& export_environment, const Creds* pw);

}  // namespace postern::mda
