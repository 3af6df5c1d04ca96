// tests/layering/smtp_includes_queue.cc — compiled as lib/smtp sees: lib/queue,
// which lib/smtp does not link, must not be found.
#include "postern/queue/queue.h"
