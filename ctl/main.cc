// ctl/main.cc — the `postern` command: global options, then one command from
// the table (commands.h), matched by unambiguous prefixes.
//   postern [-c config_dir] command [args]
// Called as postfix, postqueue, postsuper, postcat or qshape, it is that
// Postfix command instead (frontends.h).
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "ctl/commands.h"
#include "ctl/frontends.h"
#include "postern/config/layout.h"
#include "postern/config/maincf.h"
#include "postern/log/log.h"

using namespace postern;

namespace postern::ctl {

FrontendMain FrontendFor(std::string_view argv0) {
  size_t slash = argv0.rfind('/');
  std::string_view name = slash == std::string_view::npos ? argv0 : argv0.substr(slash + 1);
  static constexpr std::pair<std::string_view, FrontendMain> kTable[] = {
      {"postfix", PostfixMain}, {"postqueue", PostqueueMain}, {"postsuper", PostsuperMain},
      {"postcat", PostcatMain}, {"qshape", QshapeMain},
  };
  for (const auto& [n, fn] : kTable)
    if (n == name) return fn;
  return nullptr;
}

}  // namespace postern::ctl

namespace {

int Usage() {
  std::string text = "usage: postern [-c config_dir] command [args]\ncommands:\n";
  for (const auto& c : ctl::Commands()) {
    std::string name;
    for (auto w : c.words) name += (name.empty() ? "" : " ") + std::string(w);
    if (!c.usage.empty()) name += " " + std::string(c.usage);
    text += "  " + name + std::string(name.size() < 22 ? 22 - name.size() : 1, ' ') + std::string(c.help) + "\n";
  }
  std::fputs(text.c_str(), stderr);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (auto frontend = ctl::FrontendFor(argc > 0 ? argv[0] : "")) return frontend(argc, argv);
  log::InitCommand("postern");
  std::string dash_c;
  int i = 1;
  for (; i < argc && argv[i][0] == '-' && argv[i][1]; ++i) {
    std::string a = argv[i];
    if (a == "-c" && i + 1 < argc) dash_c = argv[++i];
    else if (a == "-v") log::SetLevel(log::Level::kVerbose);
    else if (a == "-h" || a == "--help") return Usage(), 0;
    else return Usage();
  }
  std::vector<std::string> words(argv + i, argv + argc);
  if (words.empty()) return Usage();
  size_t consumed = 0;
  std::string error;
  const ctl::Command* cmd = ctl::Match(ctl::Commands(), words, &consumed, &error);
  if (!cmd) {
    log::Info("{}", error);  // "postern: ambiguous command: sh st: show stats, show status"
    return error.starts_with("ambiguous") ? 1 : Usage();
  }
  ctl::Context ctx;
  ctx.config_dir = config::ConfigDir(dash_c);
  if (char real[4096]; realpath(ctx.config_dir.c_str(), real)) ctx.config_dir = real;
  auto cfg = config::Config::Load(ctx.config_dir);
  if (!cfg) {
    log::Error("{}", cfg.error());
    return 1;
  }
  ctx.cfg = std::move(*cfg);
  ctx.args.assign(words.begin() + long(consumed), words.end());
  ctx.command = cmd;
  return cmd->run(ctx);
}
