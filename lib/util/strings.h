// util/strings.h — small string_view helpers shared by every parser.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace postern {

constexpr bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view Trim(std::string_view s);
std::string_view TrimLeft(std::string_view s);
std::string_view TrimRight(std::string_view s);

// Splits on any of `seps`, dropping empty fields (Postfix's list syntax:
// "a, b c,,d" -> a b c d); text inside {braces} is never split.
std::vector<std::string> SplitList(std::string_view s, std::string_view seps = ", \t\r\n");

bool StartsWith(std::string_view s, std::string_view prefix);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
std::string ToLower(std::string_view s);

// Well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool IsValidUtf8(std::string_view s);

// `s` as a JSON string, quotes included: '"' and '\\' escaped, control
// characters as \u00XX, and so are bytes above 0x7f unless `s` is valid
// UTF-8 (the output is always valid JSON).
std::string JsonString(std::string_view s);

// Parses a whole decimal number with no sign; false on anything else or overflow.
bool ParseUnsigned(std::string_view s, unsigned long long* out);

}  // namespace postern
