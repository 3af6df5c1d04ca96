// tests/layering/program_allowed.cc — compiled as smtpd sees: its own folder
// and every lib module, with the postern/ prefix.
#include "postern/queue/queue.h"
#include "smtpd/settings.h"
