// postconf/main.cc — the postconf command: option parsing with Postfix's
// compatibility matrix (which options combine, which exclude each other), then
// one of show main.cf, show master.cf, edit main.cf, edit master.cf.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <string_view>

#include "postconf.h"
#include "postern/config/layout.h"
#include "postern/log/log.h"

namespace postern::postconf {
namespace {

constexpr const char* kUsage =
    "usage: postconf [-a (server SASL types)] [-A (client SASL types)] [-c config_dir] [-d (parameter defaults)] [-e (edit configuration)]"
    " [-f (fold lines)] [-F (master.cf fields)] [-h (no names)] [-H (no values)]"
    " [-l (mailbox lock types)] [-m (map types)] [-M (master.cf)] [-n (non-default parameters)] [-o name=value (override parameter value)]"
    " [-p (main.cf, default)] [-P (master.cf parameters)] [-T (TLS library information)] [-x (expand parameter values)]"
    " [-X (exclude)] [-# (comment-out)] [name...]";

struct OptionName {
  unsigned bit;
  const char* name;
};
constexpr OptionName kNames[] = {
    {kShowDefs, "-d"},   {kEdit, "-e"},         {kFold, "-f"},         {kMasterField, "-F"},
    {kHideName, "-h"},   {kHideValue, "-H"},    {kMasterEntry, "-M"},  {kShowNondef, "-n"},
    {kOverride, "-o"},   {kMainParam, "-p"},    {kMasterParam, "-P"},  {kEval, "-x"},
    {kExclude, "-X"},    {kCommentOut, "-#"},   {kShowMaps, "-m"},     {kShowSaslServer, "-a"},
    {kShowSaslClient, "-A"}, {kShowLocks, "-l"}, {kShowTls, "-T"},
};

std::string Names(unsigned bits) {
  std::string out;
  for (const auto& n : kNames) {
    if (!(bits & n.bit)) continue;
    if (!out.empty()) out += ", ";
    out += n.name;
  }
  return out;
}

constexpr unsigned kMajor = kMainParam | kMasterEntry | kMasterField | kMasterParam | kInfoModes;
constexpr unsigned kEdits = kEdit | kExclude | kCommentOut;

// Options of which at most one may be given (the first row: the major modes).
constexpr unsigned kExclusive[] = {
    kMajor,
    kShowDefs | kShowNondef | kEdits,
    kFold | kEdits,
    kEval | kEdits,
    kOverride | kShowDefs | kEdits,
    kHideName | kHideValue | kEdits,
};

// Each major mode and the modifiers it takes.
constexpr unsigned kCompatible[][2] = {
    {kMainParam, kEdits | kFold | kHideName | kHideValue | kEval | kShowDefs | kShowNondef | kOverride},
    {kMasterEntry, kEdit | kExclude | kCommentOut | kFold | kOverride | kEval},
    {kMasterField, kEdit | kFold | kHideName | kHideValue | kOverride | kEval},
    {kMasterParam, kEdit | kExclude | kFold | kHideName | kHideValue | kOverride | kEval},
    {kShowMaps, 0}, {kShowSaslServer, 0}, {kShowSaslClient, 0}, {kShowLocks, 0}, {kShowTls, 0},
};

void CheckCombination(unsigned mode) {
  for (unsigned row : kExclusive) {
    unsigned given = mode & row;
    if (given & (given - 1)) log::Fatal("specify one of {}", Names(given));
  }
  for (const auto& [major, allowed] : kCompatible) {
    if (!(mode & major)) continue;
    if (unsigned excess = mode & ~(major | allowed))
      log::Fatal("with option {}, do not specify {}", Names(major), Names(excess));
  }
}

Options ParseCommandLine(int argc, char** argv) {
  Options o;
  std::string dash_c;
  opterr = 0;  // one usage line instead of getopt's own message
  int ch;
  while ((ch = getopt(argc, argv, "aAc:defFhHlmMno:pPT:xX#")) != -1) {
    switch (ch) {
      case 'a': o.mode |= kShowSaslServer; break;
      case 'A': o.mode |= kShowSaslClient; break;
      case 'c': dash_c = optarg; break;
      case 'd': o.mode |= kShowDefs; break;
      case 'e': o.mode |= kEdit; break;
      case 'f': o.mode |= kFold; break;
      case 'F': o.mode |= kMasterField; break;
      case 'h': o.mode |= kHideName; break;
      case 'H': o.mode |= kHideValue; break;
      case 'l': o.mode |= kShowLocks; break;
      case 'm': o.mode |= kShowMaps; break;
      case 'M': o.mode |= kMasterEntry; break;
      case 'n': o.mode |= kShowNondef; break;
      case 'o':
        o.mode |= kOverride;
        o.overrides.emplace_back(optarg);
        break;
      case 'p': o.mode |= kMainParam; break;
      case 'P': o.mode |= kMasterParam; break;
      case 'T':
        o.mode |= kShowTls;
        o.tls_query = optarg;
        break;
      case 'x': o.mode |= kEval; break;
      case 'X': o.mode |= kExclude; break;
      case '#': o.mode |= kCommentOut; break;
      default: log::Fatal("{}", kUsage);
    }
  }
  o.args.assign(argv + optind, argv + argc);
  if (!(o.mode & kMajor)) o.mode |= kMainParam;
  // As Postfix: a name=value argument makes the command an edit.
  if (!o.args.empty() && o.args[0].find('=') != std::string::npos) o.mode |= kEdit;
  CheckCombination(o.mode);
  if ((o.mode & kEdit) && o.args.empty()) log::Fatal("-e requires name=value argument");
  if ((o.mode & (kExclude | kCommentOut)) && o.args.empty())
    log::Fatal("{} requires {} argument", Names(o.mode & (kExclude | kCommentOut)),
               (o.mode & kMainParam) ? "a parameter name" : "a service");
  o.config_dir = config::ConfigDir(dash_c);
  return o;
}

}  // namespace
}  // namespace postern::postconf

int main(int argc, char** argv) {
  using namespace postern::postconf;
  postern::log::InitCommand("postconf");
  Options o = ParseCommandLine(argc, argv);
  bool master = o.mode & (kMasterEntry | kMasterField | kMasterParam);
  bool edit = o.mode & (kEdit | kExclude | kCommentOut);
  if (o.mode & kInfoModes) {
    ShowInfo(o);
  } else if (edit) {
    master ? EditMaster(o) : EditMain(o);
  } else {
    master ? ShowMaster(o) : ShowMain(o);
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}
