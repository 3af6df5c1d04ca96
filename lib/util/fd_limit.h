// util/fd_limit.h — how many descriptors a process may still open, from
// RLIMIT_NOFILE: what smtpd's session limit and qmgr's in-flight cap derive from.
#pragma once

#include <cstddef>

namespace postern {

// The soft descriptor limit minus `reserve` (for the queue, listeners, tables),
// at least 1; 0 when the limit is infinite or cannot be read. With
// `raise_soft_limit` the soft limit is first raised to the hard one.
size_t DescriptorBudget(size_t reserve, bool raise_soft_limit);

}  // namespace postern
