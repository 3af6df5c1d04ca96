// config/values.cc — typed parameter values: time units, sizes, booleans, tables.
#include "postern/config/values.h"

#include <charconv>
#include <limits>

#include "postern/config/compat.h"
#include "postern/util/strings.h"

namespace postern::config {

static long long UnitSeconds(char unit) {
  switch (unit) {
    case 's': return 1;
    case 'm': return 60;
    case 'h': return 3600;
    case 'd': return 86400;
    case 'w': return 7 * 86400;
    default: return 0;
  }
}

Result<std::chrono::seconds> ParseTime(std::string_view text, char unit) {
  std::string_view s = Trim(text);
  std::string_view digits = s;
  if (!s.empty() && !(s.back() >= '0' && s.back() <= '9')) {
    unit = char(s.back() | 0x20);
    digits = s.substr(0, s.size() - 1);
  }
  unsigned long long n = 0;
  long long mult = UnitSeconds(unit);
  if (mult == 0 || !ParseUnsigned(digits, &n) ||
      n > (unsigned long long)std::numeric_limits<int>::max() / mult)
    return Err("bad time value: \"" + std::string(text) + "\" (use a number with unit s, m, h, d or w)");
  return std::chrono::seconds(n * mult);
}

Result<uint64_t> ParseSize(std::string_view text) {
  std::string_view s = Trim(text);
  uint64_t mult = 1;
  if (!s.empty()) {
    switch (s.back() | 0x20) {
      case 'k': mult = 1ull << 10; break;
      case 'm': mult = 1ull << 20; break;
      case 'g': mult = 1ull << 30; break;
      default: break;
    }
    if (mult != 1) s.remove_suffix(1);
  }
  unsigned long long n = 0;
  if (!ParseUnsigned(s, &n) || n > std::numeric_limits<uint64_t>::max() / mult)
    return Err("bad size value: \"" + std::string(text) + "\" (use a byte count, optionally with k, m or g)");
  return uint64_t(n * mult);
}

Result<bool> ParseBool(std::string_view text) {
  std::string_view s = Trim(text);
  if (EqualsIgnoreCase(s, "yes")) return true;
  if (EqualsIgnoreCase(s, "no")) return false;
  return Err("bad boolean value: \"" + std::string(text) + "\" (use yes or no)");
}

Result<long long> ParseInt(std::string_view text) {
  std::string_view s = Trim(text);
  long long v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size())
    return Err("bad numerical value: \"" + std::string(text) + "\"");
  return v;
}

Result<TableRef> ParseTableRef(std::string_view text) {
  std::string_view s = Trim(text);
  size_t colon = s.find(':');
  // "sts:" (MTA-STS in smtp_tls_policy_maps) is the one table without a name.
  bool nameless = s == "sts:";
  if (colon == std::string_view::npos || colon == 0 || (colon + 1 == s.size() && !nameless))
    return Err("bad lookup table reference: \"" + std::string(text) + "\" (use type:name)");
  for (char c : s.substr(0, colon))
    if (!(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') && c != '_')
      return Err("bad lookup table type in \"" + std::string(text) + "\"");
  // hash:, btree: and dbm: files are LMDB files here (postmap builds them so).
  return TableRef{std::string(CanonicalTableType(s.substr(0, colon))), std::string(s.substr(colon + 1))};
}

Result<std::vector<TableRef>> ParseTableList(std::string_view text) {
  std::vector<TableRef> out;
  for (const std::string& item : SplitList(text)) {
    auto ref = ParseTableRef(item);
    if (!ref) return Err(ref.error());
    out.push_back(std::move(*ref));
  }
  return out;
}

}  // namespace postern::config
