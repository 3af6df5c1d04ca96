// ctl/postsuper.h — postsuper(1)'s command line, parsed as Postfix parses
// it: actions -d/-r/-h/-H with a queue id, ALL or - (ids on stdin), -s, -p,
// and the queue names that restrict them (postsuper_args.cc).
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "postern/showq/showq.h"
#include "postern/util/result.h"

namespace postern::ctl {

// In Postfix's order of execution and of the report lines.
enum class SuperAction { kRequeue, kDelete, kHold, kRelease };
inline constexpr SuperAction kSuperActions[] = {SuperAction::kRequeue, SuperAction::kDelete, SuperAction::kHold,
                                                SuperAction::kRelease};

struct SuperArgs {
  std::string config_dir;
  std::array<std::vector<std::string>, 4> names;  // per SuperAction: ids, "ALL", "-"
  bool structure = false, purge = false;
  int verbose = 0;
  std::vector<showq::QueueName> queues;  // named on the command line; empty: defaults
  std::vector<std::string> warnings;     // Postfix's "option -d ALL will ignore ..." lines
  std::vector<std::string>& Names(SuperAction a) { return names[size_t(a)]; }
  const std::vector<std::string>& Names(SuperAction a) const { return names[size_t(a)]; }
  bool All(SuperAction a) const;
};

// Fails with the usage or "invalid directory name: X" text.
Result<SuperArgs> ParseSuperArgs(const std::vector<std::string>& args);

// The queues an action looks in: those named, else Postfix's defaults
// (delete, requeue: all; hold: incoming, active, deferred; release: hold),
// less those the action cannot apply to (hold: not hold; release: only hold).
std::vector<showq::QueueName> SuperQueues(const SuperArgs& a, SuperAction action);

// "Deleted: 3 messages", "Placed on hold: 1 message", ...
std::string SuperReport(SuperAction action, size_t n);
// "removed", "placed on hold", ...: the per-id line's verb.
std::string_view SuperDone(SuperAction action);

}  // namespace postern::ctl
