// ctl/postqueue.cc — postqueue(1): -p (mailq's listing, showq/mailq.cc),
// -j (JSON lines), -f (flush: qmgr's wakeup), -i queue_id (schedule one
// message) and -s site (schedule the mail for one destination), with
// Postfix's messages and sysexits statuses.
#include <sysexits.h>

#include <cstdio>
#include <string>
#include <vector>

#include "ctl/control.h"
#include "ctl/flush.h"
#include "ctl/frontends.h"
#include "ctl/lifecycle.h"
#include "postern/log/log.h"
#include "postern/queue/ids.h"
#include "postern/showq/showq.h"

namespace postern::ctl {

namespace {

[[noreturn]] void Fatal(int status, const std::string& text) {
  log::Write(2, "fatal: " + text);
  std::exit(status);
}

[[noreturn]] void Usage() {
  Fatal(EX_USAGE, "usage: postqueue -f | postqueue -i queueid | postqueue -j | postqueue -p | postqueue -s site");
}

constexpr const char* kDown = "Cannot flush mail queue - mail system is down";

int ListJson(const config::Config& cfg) {
  auto q = showq::OpenExisting(cfg);
  if (!q) Fatal(EX_TEMPFAIL, q.error());  // as -p (showq::Mailq)
  if (!*q) return 0;  // never created: empty
  return showq::ListJson(**q, stdout) ? 0 : EX_TEMPFAIL;
}

int FlushQueue(const config::Config& cfg) {
  if (!MasterPid(cfg) || !TriggerFlush(cfg)) Fatal(EX_UNAVAILABLE, kDown);
  return 0;
}

void FlushFile(const config::Config& cfg, const std::string& id) {
  if (!queue::ParseMsgId(id)) Fatal(EX_USAGE, "Invalid request: \"" + id + "\"");
  if (!MasterPid(cfg)) Fatal(EX_UNAVAILABLE, kDown);
  auto n = CallCount(cfg, {"schedule", id});
  if (!n) Fatal(NotRunning(n.error()) ? EX_UNAVAILABLE : EX_SOFTWARE, NotRunning(n.error()) ? kDown : n.error());
}

// Schedules every waiting envelope bound for `site`, one request each: the
// queue is read a page at a time, qmgr changes its own state.
int FlushSite(const config::Config& cfg, const std::string& site) {
  if (!ValidSite(site))
    Fatal(EX_USAGE, "Cannot flush mail queue - invalid destination: \"" + site.substr(0, 100) +
                        (site.size() > 100 ? "..." : "") + "\"");
  if (!MasterPid(cfg)) Fatal(EX_UNAVAILABLE, kDown);
  auto q = showq::OpenExisting(cfg);
  if (!q) Fatal(EX_UNAVAILABLE, q.error());
  if (!*q) return 0;
  std::string error;
  auto st = showq::ForEachMessage(**q, [&](const queue::MessageRecord&, const std::vector<queue::Envelope>& envs) {
    for (const auto& e : envs) {
      if (!queue::Scheduled(e.state) || !SiteMatches(e, site)) continue;
      if (auto n = CallCount(cfg, {"schedule", queue::FormatEnvId(e.id)}); !n) {
        error = n.error();
        return false;
      }
    }
    return true;
  });
  if (!st.ok()) Fatal(EX_TEMPFAIL, "cannot read the queue: " + st.message);
  if (!error.empty()) Fatal(EX_UNAVAILABLE, NotRunning(error) ? kDown : error);
  return 0;
}

}  // namespace

int PostqueueMain(int argc, char** argv) {
  log::InitCommand("postqueue");
  auto parsed = ParseShortOptions(std::vector<std::string>(argv + 1, argv + argc), "cis", "fjpv");
  if (!parsed || !parsed->operands.empty()) Usage();
  char mode = 0;
  std::string dash_c, value;
  std::vector<std::string> ids;  // -i may be given several times
  for (const auto& o : parsed->opts) {
    if (o.letter == 'c') {
      dash_c = o.value;
    } else if (o.letter == 'v') {
      log::SetLevel(log::Level::kVerbose);
    } else {
      if (mode && !(mode == 'i' && o.letter == 'i')) Usage();
      mode = o.letter;
      value = o.value;
      if (mode == 'i') ids.push_back(o.value);
    }
  }
  if (!mode) Usage();
  auto loaded = LoadFrontendConfig(dash_c);
  if (!loaded) Fatal(EX_CONFIG, loaded.error());
  const config::Config& cfg = loaded->cfg;
  switch (mode) {
    case 'p': return showq::Mailq(cfg);
    case 'j': return ListJson(cfg);
    case 'f': return FlushQueue(cfg);
    case 'i':
      for (const auto& id : ids) FlushFile(cfg, id);
      return 0;
    default: return FlushSite(cfg, value);
  }
}

}  // namespace postern::ctl
