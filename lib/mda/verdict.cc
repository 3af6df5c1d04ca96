// mda/verdict.cc — Postfix's mbox_dsn(): which errno defers and which bounces.
#include "postern/mda/verdict.h"

#include <cerrno>

namespace postern::mda {

Verdict Verdict::FromErrno(int err, std::string text, const char* dsn) {
  if (err == EDQUOT || err == EFBIG) return Bounce("5.2.2", std::move(text));
  if (err == ENOSPC || err == EAGAIN || err == ESTALE || err == EINTR || err == ENOMEM || err == EMFILE ||
      err == ENFILE)
    return Defer("4.3.0", std::move(text));
  return Bounce(dsn, std::move(text));
}

}  // namespace postern::mda
