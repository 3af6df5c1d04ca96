// local/expand.h — the text rules of local delivery, free of side effects so
// that they can be unit-tested: alias/.forward/:include: destination lists,
// forward_path attribute expansion, the command environment filter.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::local {

// One destination of an alias, .forward or :include: file.
struct Destination {
  enum class Kind {
    kAddress,  // another recipient (user, user@domain)
    kMailbox,  // \user: that user's own mailbox, no alias or .forward
    kCommand,  // |command (text after the '|')
    kFile,     // /file/name (ending in '/': a Maildir)
    kInclude,  // :include:/file
  };
  Kind kind = Kind::kAddress;
  std::string text;
  bool operator==(const Destination&) const = default;
};

// Splits a destination list: entries are separated by commas or new lines
// (and white space between plain addresses); "double quotes" protect
// commands and file names with blanks; '#' starts a comment line in files.
// At most `limit` entries; the rest is dropped and *truncated set.
std::vector<Destination> ParseDestinations(std::string_view text, size_t limit, bool* truncated = nullptr);

// Postfix's $name, ${name}, ${name?text}, ${name:text} with the recipient's
// attributes. `lookup` answers a name (nullopt = undefined, as an empty
// $extension is). A plain reference to an undefined name makes the whole
// element undefined (nullopt), so that forward_path skips it.
using AttrLookup = std::function<std::optional<std::string>(std::string_view name)>;
std::optional<std::string> ExpandAttributes(std::string_view text, const AttrLookup& lookup);

// Postfix's command_expansion_filter: characters a command's environment
// may see from mail data; others become '_'.
std::string FilterEnvValue(std::string_view value);

// Strips one level of "double quotes" (with backslash escapes).
std::string Unquote(std::string_view s);

}  // namespace postern::local
