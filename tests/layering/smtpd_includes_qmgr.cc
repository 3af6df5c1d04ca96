// tests/layering/smtpd_includes_qmgr.cc — compiled as smtpd sees: another
// program's header must not be found.
#include "qmgr/settings.h"
