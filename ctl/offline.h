// ctl/offline.h — `postern show queue` when postern is not running: reads the
// queue directly and prints every envelope with runstate "offline".
#pragma once

#include "postern/config/maincf.h"

namespace postern::ctl {

int ShowQueueOffline(const config::Config& cfg, bool json);

}  // namespace postern::ctl
