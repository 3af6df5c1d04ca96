// mda/verdict.cc — Postfix's mbox_dsn() (which errno defers and which
// bounces) and dsn_split (a status at the start of a text).
#include "postern/mda/verdict.h"

#include <cctype>
#include <cerrno>

namespace postern::mda {

Verdict Verdict::FromErrno(int err, std::string text, const char* dsn) {
  if (err == EDQUOT || err == EFBIG) return Bounce("5.2.2", std::move(text));
  if (err == ENOSPC || err == EAGAIN || err == ESTALE || err == EINTR || err == ENOMEM || err == EMFILE ||
      err == ENFILE)
    return Defer("4.3.0", std::move(text));
  return dsn[0] == '4' ? Defer(dsn, std::move(text)) : Bounce(dsn, std::move(text));
}

bool SplitStatus(std::string_view text, std::string* dsn, std::string* rest) {
  size_t b = text.find_first_not_of(" \t");
  if (b == std::string_view::npos) return false;
  std::string_view t = text.substr(b);
  if (t.size() < 5 || (t[0] != '2' && t[0] != '4' && t[0] != '5') || t[1] != '.') return false;
  size_t i = 2;
  for (int part = 0; part < 2; ++part) {
    size_t start = i;
    while (i < t.size() && i - start < 4 && std::isdigit(static_cast<unsigned char>(t[i]))) ++i;
    if (i == start || i - start > 3) return false;
    if (part == 0 && (i >= t.size() || t[i++] != '.')) return false;
  }
  if (i < t.size() && t[i] != ' ' && t[i] != '\t') return false;
  *dsn = std::string(t.substr(0, i));
  size_t r = t.find_first_not_of(" \t", i);
  *rest = r == std::string_view::npos ? "" : std::string(t.substr(r));
  return true;
}

}  // namespace postern::mda
