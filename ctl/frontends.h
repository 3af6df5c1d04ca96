// ctl/frontends.h — Postfix's command names over postern: the postern binary
// also runs as postfix, postqueue, postsuper, postcat and qshape (symlinks
// beside it), keyed on the name it was called by, as sendmail runs as mailq.
// Each front end parses Postfix's options (short options, parsed here) and
// maps them onto postern's lifecycle, control channel and queue.
#pragma once

#include <sys/stat.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "postern/config/maincf.h"
#include "postern/queue/schema.h"
#include "postern/util/result.h"

namespace postern::ctl {

// The front end called `name` (a path's last part), or nullptr for postern.
using FrontendMain = int (*)(int argc, char** argv);
FrontendMain FrontendFor(std::string_view argv0);

int PostfixMain(int argc, char** argv);
int PostqueueMain(int argc, char** argv);
int PostsuperMain(int argc, char** argv);
int PostcatMain(int argc, char** argv);
int QshapeMain(int argc, char** argv);

// Short options as Postfix's GETOPT takes them: letters may be grouped
// ("-bh"), a value follows its letter or is the next word, "--" or the first
// operand ends the options.
struct Opt {
  char letter;
  std::string value;
};
struct ParsedOpts {
  std::vector<Opt> opts;
  std::vector<std::string> operands;
};
// with_value: letters that take a value; flags: letters that do not. Fails
// with "invalid option -- 'x'" or "option requires an argument -- 'x'".
Result<ParsedOpts> ParseShortOptions(const std::vector<std::string>& args, std::string_view with_value,
                                     std::string_view flags);

// The configuration directory: -c, else $MAIL_CONFIG (Postfix's), else
// postern's default (config::ConfigDir); loaded, or a fatal error.
struct Loaded {
  std::string dir;
  config::Config cfg;
};
Result<Loaded> LoadFrontendConfig(const std::string& dash_c);

// postqueue -s: a host name or a [literal]; whether an envelope's mail goes
// there (its recipient domain, or the next hop qmgr routed it to).
bool ValidSite(std::string_view site);
bool SiteMatches(const queue::Envelope& e, std::string_view site);

// fn(name, path, stat) for each plain file in $queue_directory/maildrop.
void ForEachMaildropFile(const config::Config& cfg,
                         const std::function<void(const std::string&, const std::string&, const struct stat&)>& fn);

}  // namespace postern::ctl
