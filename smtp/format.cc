// smtp/format.cc — reply quotes, DSN codes and delay figures; see format.h.
#include "smtp/format.h"

#include <cstdio>

namespace postern::smtp_client {

std::string ReplyText(const smtp::Reply& r) {
  std::string out = std::to_string(r.code);
  if (!r.enhanced.empty()) out += " " + r.enhanced;
  for (const auto& l : r.lines) {
    if (!l.empty()) out += " " + l;
  }
  return out;
}

std::string ReplyDsn(const smtp::Reply& r) {
  if (!r.enhanced.empty() && r.enhanced[0] == char('0' + r.code / 100)) return r.enhanced;
  return std::to_string(r.code / 100) + ".0.0";
}

}  // namespace postern::smtp_client
