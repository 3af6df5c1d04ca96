// ctl/postfix.cc — postfix(1): `postfix [-Dv] [-c config_dir] command`, the
// lifecycle commands of `postern` (lifecycle.cc, flush.cc) under Postfix's
// name and in Postfix's words ("postfix/postfix-script: the Postfix mail
// system is running: PID: N"), so that scripts written for Postfix work.
#include <cstdio>
#include <string>
#include <vector>

#include "ctl/commands.h"
#include "ctl/frontends.h"
#include "ctl/lifecycle.h"
#include "postern/log/log.h"

namespace postern::ctl {

namespace {

constexpr const char* kScript = "postfix/postfix-script";

void Say(const std::string& text) { std::fprintf(stderr, "%s: %s\n", kScript, text.c_str()); }

// Commands postern has no work for: said so, with the reason, and exit 0 (a
// package script that runs them must not fail).
int SetPermissions(Context&) {
  Say("set-permissions: nothing to do: master sets the owner and modes of the queue directory tree at every start");
  return 0;
}

int UpgradeConfiguration(Context& ctx) {
  Say("upgrade-configuration: postern's main.cf and master.cf need no upgrade step; checking them");
  return PrintProblems(CheckInstance(ctx), false) > 0 ? 1 : 0;
}

struct Entry {
  std::string_view name;
  std::string_view postern;  // the postern command that does it; empty: run
  int (*run)(Context&);
};
constexpr Entry kCommands[] = {
    {"start", "start", nullptr},   {"start-fg", "start-fg", nullptr},
    {"stop", "stop", nullptr},     {"abort", "abort", nullptr},
    {"reload", "reload", nullptr}, {"status", "status", nullptr},
    {"check", "check", nullptr},   {"flush", "flush", nullptr},
    {"set-permissions", "", SetPermissions}, {"upgrade-configuration", "", UpgradeConfiguration},
};

const Command* Find(std::string_view word) {
  for (const auto& c : Commands())
    if (c.words.size() == 1 && c.words[0] == word) return &c;
  return nullptr;
}

int Unknown(const std::string& word) {
  Say("fatal: unknown command: '" + word +
      "'. Usage: postfix start (or stop, reload, abort, flush, check, status, start-fg, set-permissions, "
      "upgrade-configuration)");
  return 1;
}

}  // namespace

int PostfixMain(int argc, char** argv) {
  log::InitCommand("postfix");
  auto parsed = ParseShortOptions(std::vector<std::string>(argv + 1, argv + argc), "c", "Dv");
  if (!parsed || parsed->operands.empty()) {
    if (!parsed) log::Error("{}", parsed.error());
    log::Write(2, "fatal: usage: postfix [-c config_dir] [-Dv] command");
    return 1;
  }
  std::string dash_c;
  for (const auto& o : parsed->opts) {
    if (o.letter == 'c') dash_c = o.value;
    else if (o.letter == 'v') log::SetLevel(log::Level::kVerbose);
    else log::Warning("-D: postern has no debugger_command; the daemons run as usual");
  }
  const std::string& word = parsed->operands[0];
  const Entry* entry = nullptr;
  for (const auto& e : kCommands)
    if (e.name == word) entry = &e;
  if (!entry) return Unknown(word);
  if (parsed->operands.size() > 1) {
    Say("fatal: " + word + " takes no arguments");
    return 1;
  }
  auto loaded = LoadFrontendConfig(dash_c);
  if (!loaded) {
    Say("fatal: " + loaded.error());
    return 1;
  }
  SetVoice({kScript, "Postfix"});
  Context ctx;
  ctx.config_dir = loaded->dir;
  ctx.cfg = std::move(loaded->cfg);
  if (entry->run) return entry->run(ctx);
  ctx.command = Find(entry->postern);
  return ctx.command ? ctx.command->run(ctx) : Unknown(word);
}

}  // namespace postern::ctl
