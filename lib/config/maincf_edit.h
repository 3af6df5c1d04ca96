// config/maincf_edit.h — in-place edits of main.cf text for `postconf -e/-X/-#`:
// comments, blank lines and order survive; only the logical lines edited change.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "postern/util/result.h"

namespace postern::config {

// Postfix-syntax text as physical lines grouped into logical entries (a line
// starting in column 1 plus the continuation lines after it). Edits replace,
// drop or comment out whole entries; everything else is rendered as it was.
class ConfigText {
 public:
  struct Entry {
    size_t first = 0;     // index of its first physical line
    size_t last = 0;      // index of its last continuation line
    std::string logical;  // the physical lines joined as the parsers see them
  };

  explicit ConfigText(std::string_view text);

  const std::vector<Entry>& entries() const { return entries_; }
  size_t line_count() const { return lines_.size(); }

  // `replacement` is whole lines, each ending in '\n'; empty deletes the entry.
  void Replace(size_t entry, std::string replacement);
  // Prefixes every line of the entry with '#', as Postfix's `postconf -#`.
  void CommentOut(size_t entry);
  void Append(std::string lines);  // whole lines, each ending in '\n'
  std::string Render() const;

 private:
  struct Line {
    std::string text;   // without its '\n'
    std::string edited; // replacement text for this line (whole lines)
    bool changed = false;
  };
  std::vector<Line> lines_;
  std::vector<Entry> entries_;
  std::string appended_;
};

enum class MainEditOp { kSet, kDelete, kComment };

struct MainEditResult {
  std::string text;
  std::vector<std::string> warnings;  // "PATH: multiple entries for \"name\""
};

// Applies one kind of edit to main.cf text. kSet takes name/value pairs and
// replaces every logical line that assigns the name (appending unknown names at
// the end); kDelete and kComment take names only (values ignored). Names must
// be parameter names; values may not contain a newline.
Result<MainEditResult> EditMainCf(std::string_view text, MainEditOp op,
                                  const std::vector<std::pair<std::string, std::string>>& items,
                                  std::string_view origin = "main.cf");

// Splits a `name=value` command-line argument (white space around either side
// is dropped); an error names what is wrong.
Result<std::pair<std::string, std::string>> SplitNameValue(std::string_view arg);
bool IsParameterName(std::string_view name);

// Reads a whole file; the error reads "open PATH: reason" as Postfix's do.
Result<std::string> ReadTextFile(const std::string& path);
// Writes PATH through a temporary file in the same directory: write, fsync,
// keep the old file's mode, rename over PATH, fsync the directory.
Result<void> ReplaceFileAtomically(const std::string& path, std::string_view content);

}  // namespace postern::config
