// ctl/commands.h — the `postern` command table: each command is a sequence of
// words (abbreviable to the shortest unambiguous prefix, as smtpctl does) and
// a small function. A command set lives in its own file with a function
// returning its entries (lifecycle.h: LifecycleCommands); commands.cc's
// Commands() joins the sets, so adding one is a one-line edit there.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "postern/config/maincf.h"

namespace postern::ctl {

struct Context {
  std::string config_dir;
  config::Config cfg;
  std::vector<std::string> args;  // words after the command
  const struct Command* command = nullptr;  // the matched entry
};

struct Command {
  std::vector<std::string_view> words;  // {"start"}, {"show", "queue"}
  std::string_view usage;               // arguments, for the usage text
  std::string_view help;
  int (*run)(Context&);
};

std::span<const Command> Commands();

// The command the words name, by prefix; nullptr with *error set when none
// or several match. *consumed = words used by the command name.
const Command* Match(std::span<const Command> table, const std::vector<std::string>& words, size_t* consumed,
                     std::string* error);

}  // namespace postern::ctl
