// tests/layering/lib_includes_smtp_program.cc — compiled as all of lib/ sees:
// the smtp program's header must not be found, though lib/smtp exists.
#include "smtp/conn.h"
