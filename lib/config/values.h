// config/values.h — conversions of expanded parameter text to typed values,
// shared by main.cf accessors, master.cf columns and command options.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "postern/util/result.h"

namespace postern::config {

// "10s", "5m", "2h", "1d", "1w"; a bare number takes `unit`.
Result<std::chrono::seconds> ParseTime(std::string_view text, char unit = 's');
// "10240000", "10k", "10m", "1g" (1024-based suffixes).
Result<uint64_t> ParseSize(std::string_view text);
// "yes" | "no", case-insensitive, as Postfix.
Result<bool> ParseBool(std::string_view text);
Result<long long> ParseInt(std::string_view text);

// A lookup-table reference: "lmdb:/etc/postern/aliases" -> {lmdb, /etc/...}.
struct TableRef {
  std::string type;
  std::string name;
  std::string ToString() const { return type + ":" + name; }
};
Result<TableRef> ParseTableRef(std::string_view text);
Result<std::vector<TableRef>> ParseTableList(std::string_view text);

}  // namespace postern::config
