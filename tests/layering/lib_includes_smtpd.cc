// tests/layering/lib_includes_smtpd.cc — compiled as all of lib/ sees: a
// program's header must not be found.
#include "smtpd/settings.h"
