// ctl/postsuper_args.cc — postsuper(1)'s options and queue names, and the
// words of its report; see postsuper.h.
#include <algorithm>

#include "ctl/frontends.h"
#include "ctl/postsuper.h"

namespace postern::ctl {

namespace {

using showq::QueueName;

constexpr std::string_view kUsage =
    "usage: postsuper [-c config_dir] [-d queue_id (delete)] [-h queue_id (hold)] [-H queue_id (un-hold)] "
    "[-p (purge temporary files)] [-r queue_id (requeue)] [-s (structure fix)] [-v (verbose)] [queue...]";

}  // namespace

bool SuperArgs::All(SuperAction a) const {
  const auto& n = Names(a);
  return std::find(n.begin(), n.end(), "ALL") != n.end();
}

Result<SuperArgs> ParseSuperArgs(const std::vector<std::string>& args) {
  auto parsed = ParseShortOptions(args, "cdhHr", "psv");
  if (!parsed) return Err(std::string(kUsage));
  SuperArgs a;
  for (const auto& o : parsed->opts) {
    switch (o.letter) {
      case 'c':
        if (o.value.empty() || o.value[0] != '/') return Err("-c requires absolute pathname");
        a.config_dir = o.value;
        break;
      case 'd': a.Names(SuperAction::kDelete).push_back(o.value); break;
      case 'r': a.Names(SuperAction::kRequeue).push_back(o.value); break;
      case 'h': a.Names(SuperAction::kHold).push_back(o.value); break;
      case 'H': a.Names(SuperAction::kRelease).push_back(o.value); break;
      case 'p': a.purge = true; break;
      case 's': a.structure = true; break;
      default: ++a.verbose; break;
    }
  }
  for (const auto& name : parsed->operands) {
    auto q = showq::ParseQueueName(name);
    if (!q) return Err("invalid directory name: " + name);
    a.queues.push_back(*q);
  }
  static constexpr std::pair<SuperAction, char> kLetters[] = {
      {SuperAction::kDelete, 'd'}, {SuperAction::kRequeue, 'r'}, {SuperAction::kHold, 'h'}, {SuperAction::kRelease, 'H'}};
  for (auto [action, letter] : kLetters)
    if (a.All(action) && a.Names(action).size() > 1)
      a.warnings.push_back(std::string("option \"-") + letter + " ALL\" will ignore other command line queue IDs");
  bool any = a.structure || a.purge;
  for (const auto& n : a.names) any |= !n.empty();
  if (!any) a.structure = a.purge = true;  // Postfix's default action
  return a;
}

std::vector<QueueName> SuperQueues(const SuperArgs& a, SuperAction action) {
  std::vector<QueueName> q = a.queues;
  if (q.empty()) {
    switch (action) {
      case SuperAction::kHold: q = {QueueName::kIncoming, QueueName::kActive, QueueName::kDeferred}; break;
      case SuperAction::kRelease: q = {QueueName::kHold}; break;
      default:
        q = {QueueName::kMaildrop, QueueName::kIncoming, QueueName::kActive, QueueName::kDeferred, QueueName::kHold};
    }
  }
  // Maildrop mail is not sanitized yet: it is never held, released or requeued.
  std::erase_if(q, [action](QueueName n) {
    switch (action) {
      case SuperAction::kHold: return n == QueueName::kHold || n == QueueName::kMaildrop;
      case SuperAction::kRelease: return n != QueueName::kHold;
      case SuperAction::kRequeue: return n == QueueName::kMaildrop;
      default: return false;
    }
  });
  return q;
}

std::string SuperReport(SuperAction action, size_t n) {
  static constexpr std::string_view kWhat[] = {"Requeued", "Deleted", "Placed on hold", "Released from hold"};
  return std::string(kWhat[size_t(action)]) + ": " + std::to_string(n) + " message" + (n > 1 ? "s" : "");
}

std::string_view SuperDone(SuperAction action) {
  static constexpr std::string_view kDone[] = {"requeued", "removed", "placed on hold", "released from hold"};
  return kDone[size_t(action)];
}

}  // namespace postern::ctl
