// table/source.h — the text formats that tables are made from: postmap's
// "key value" lines and aliases(5) "name: value, value"; shared by postmap,
// postalias and the texthash: table so that all three read files alike.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "postern/util/result.h"

namespace postern::table {

struct Entry {
  std::string key;
  std::string value;
  int line = 0;
};

enum class Syntax { kMap, kAlias };

// What to do with a key seen twice (postmap's default, -r, -w).
enum class Duplicates { kWarn, kReplace, kIgnore };

// Lines that are skipped (as Postfix does) come back as warnings that name
// origin and line; only unreadable structure is an error.
struct Parsed {
  std::vector<Entry> entries;
  std::vector<std::string> warnings;
};

// Longest key any table accepts (LMDB's limit is 511 bytes).
constexpr size_t kMaxKeyLength = 511;
// Longest logical line; longer ones are skipped with a warning.
constexpr size_t kMaxLineLength = 1 << 20;
// Largest source file read into memory.
constexpr size_t kMaxSourceSize = size_t{1} << 30;

Result<Parsed> ParseSource(std::string_view text, std::string_view origin, Syntax syntax,
                           bool fold_case);

// Applies the duplicate rule in place (file order); kWarn keeps the first and
// adds `origin, line N: duplicate entry: "key"` warnings.
void ResolveDuplicates(std::vector<Entry>* entries, Duplicates mode, std::string_view origin,
                       std::vector<std::string>* warnings);

Result<std::string> ReadWholeFile(const std::string& path, size_t limit = kMaxSourceSize);

}  // namespace postern::table
