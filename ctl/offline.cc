// ctl/offline.cc — the queue listing without qmgr: messages in id order, a
// page at a time, so memory stays bounded whatever the queue holds.
#include "ctl/offline.h"

#include <cstdio>
#include <ctime>

#include "postern/ipc/control_queue.h"
#include "postern/log/log.h"
#include "postern/queue/lifetime.h"
#include "postern/queue/queue.h"

namespace postern::ctl {

int ShowQueueOffline(const config::Config& cfg, bool json) {
  auto opts = queue::OptionsFromConfig(cfg);
  if (!opts.ok()) {
    log::Info("{}", opts.status().message);
    return 1;
  }
  // Expiry as qmgr decides it (the queue does not store it).
  auto lifetimes = queue::Lifetimes::FromConfig(cfg);
  if (!lifetimes) {
    log::Info("{}", lifetimes.error());
    return 1;
  }
  auto q = queue::Queue::Open(cfg.Str("queue_directory"), *opts);
  if (!q.ok()) {
    log::Info("queue {}: {}", cfg.Str("queue_directory"), q.status().message);
    return 1;
  }
  int64_t now = std::time(nullptr);
  queue::MsgId after = 0;
  while (true) {
    auto page = (*q)->ListWithEnvelopes(after, 200);  // one read transaction a page
    if (!page.ok()) {
      log::Info("queue: {}", page.status().message);
      return 1;
    }
    std::string out;
    for (auto& [m, envs] : *page) {
      after = m.id;
      for (auto& e : envs) {
        e.expiry = lifetimes->ExpiryOf(m);
        auto rs = ipc::control::StoredRunState(e, now, true);
        out += json ? ipc::control::FormatQueueJson(m, e, rs) : ipc::control::FormatQueueLine(m, e, rs);
        out += '\n';
      }
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    if (page->size() < 200) break;
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace postern::ctl
