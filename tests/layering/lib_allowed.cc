// tests/layering/lib_allowed.cc — compiled as lib/smtp sees: its own headers
// and those of the modules it links (util) are there.
#include "postern/smtp/reply.h"
#include "postern/util/strings.h"
