// util/fd_limit.cc — the descriptor budget of fd_limit.h.
#include "postern/util/fd_limit.h"

#include <sys/resource.h>

namespace postern {

size_t DescriptorBudget(size_t reserve, bool raise_soft_limit) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (raise_soft_limit && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) getrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur == RLIM_INFINITY) return 0;
  return rl.rlim_cur > reserve ? size_t(rl.rlim_cur - reserve) : 1;
}

}  // namespace postern
