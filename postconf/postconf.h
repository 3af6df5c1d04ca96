// postconf/postconf.h — what the postconf command's parts share: the option
// mode bits (named after Postfix's), the parsed command line and the modes.
#pragma once

#include <string>
#include <vector>

namespace postern::postconf {

enum Mode : unsigned {
  kShowNondef = 1u << 0,   // -n
  kShowDefs = 1u << 1,     // -d
  kHideName = 1u << 2,     // -h
  kHideValue = 1u << 3,    // -H
  kEdit = 1u << 4,         // -e (or a name=value argument)
  kExclude = 1u << 5,      // -X
  kCommentOut = 1u << 6,   // -#
  kFold = 1u << 7,         // -f
  kEval = 1u << 8,         // -x
  kOverride = 1u << 9,     // -o
  kMainParam = 1u << 10,   // -p (main.cf, the default)
  kMasterEntry = 1u << 11, // -M
  kMasterField = 1u << 12, // -F
  kMasterParam = 1u << 13, // -P
  kShowMaps = 1u << 14,       // -m
  kShowSaslServer = 1u << 15, // -a
  kShowSaslClient = 1u << 16, // -A
  kShowLocks = 1u << 17,      // -l
  kShowTls = 1u << 18,        // -T what
};

// The modes that report on the build rather than on a configuration file.
constexpr unsigned kInfoModes = kShowMaps | kShowSaslServer | kShowSaslClient | kShowLocks | kShowTls;

struct Options {
  unsigned mode = 0;
  std::string config_dir;                 // -c, $POSTERN_CONFIG_DIR or the layout's
  std::vector<std::string> overrides;     // -o name=value, in order
  std::vector<std::string> args;          // names, patterns or edits
  std::string tls_query;                  // -T compile-version, run-version, ...
};

// Each writes its report to stdout in one go; warnings go to stderr through
// lib/log; a fatal problem exits 1.
void ShowMain(const Options& o);
void ShowMaster(const Options& o);
void EditMain(const Options& o);
void EditMaster(const Options& o);
void ShowInfo(const Options& o);  // -m, -a, -A, -l, -T

// "name = value", or only one half with -h / -H; folded at 80 columns with -f.
std::string FormatParam(const Options& o, const std::string& name, const std::string& value);

}  // namespace postern::postconf
