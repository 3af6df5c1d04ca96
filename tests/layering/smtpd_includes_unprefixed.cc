// tests/layering/smtpd_includes_unprefixed.cc — compiled as smtpd sees: a lib
// header without the postern/ prefix must not be found.
#include "queue/queue.h"
