// config/mastercf.h — master.cf: one service per logical line, eight columns
// (service type private unpriv chroot wakeup maxproc command) plus arguments,
// `-` for defaults, `-o name=value` and `-o { name = value }` overrides.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "postern/util/result.h"

namespace postern::config {

struct MasterService {
  std::string service;  // "smtp", "127.0.0.1:2525", "qmgr"
  std::string type;     // inet | unix | unix-dgram | fifo | pass
  std::optional<bool> private_;  // nullopt: "-" (default y)
  std::optional<bool> unpriv;    // nullopt: "-" (default y)
  std::optional<bool> chroot;    // nullopt: "-" (default n)
  int wakeup = 0;                // seconds; 0 = never
  bool wakeup_if_used = false;   // "N?": only after the service was used
  std::optional<int> maxproc;    // nullopt: "-" = default_process_limit; 0 = no limit
  std::string command;           // program name in daemon_directory
  std::vector<std::string> args; // everything after the command, braces removed
  std::vector<std::pair<std::string, std::string>> overrides;  // the -o name=value among args
  std::vector<std::string> fields;  // the 8 columns as written (for postconf -M)
  int line = 0;

  bool IsPrivate() const { return private_.value_or(true); }
  bool IsUnprivileged() const { return unpriv.value_or(true); }
  std::string Key() const { return service + "/" + type; }  // "smtp/inet"
};

Result<std::vector<MasterService>> ParseMasterCf(std::string_view text,
                                                 std::string_view origin = "master.cf");
Result<std::vector<MasterService>> LoadMasterCf(const std::string& config_dir);

// Splits a master.cf line into fields on white space; `{ a b }` is one field
// "a b" (Postfix 3.0 grouping). Unbalanced braces are an error.
Result<std::vector<std::string>> SplitMasterFields(std::string_view line);

// Formats services as `postconf -M` prints them: columns aligned, arguments
// after the command, each `-o` on its own continuation line when `fold`.
std::string FormatMasterLine(const MasterService& s, bool fold);

}  // namespace postern::config
