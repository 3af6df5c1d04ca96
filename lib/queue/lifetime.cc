// queue/lifetime.cc — reading the two queue lifetimes from main.cf (see lifetime.h).
#include "postern/queue/lifetime.h"

#include "postern/config/maincf.h"

namespace postern::queue {

Result<Lifetimes> Lifetimes::FromConfig(const config::Config& cfg) {
  Lifetimes l;
  auto life = cfg.GetTime("maximal_queue_lifetime");
  if (!life) return Err(life.error());
  auto blife = cfg.GetTime("bounce_queue_lifetime");
  if (!blife) return Err(blife.error());
  l.message = static_cast<int64_t>(life->count());
  l.bounce = static_cast<int64_t>(blife->count());
  return l;
}

}  // namespace postern::queue
