// config/mastercf_edit.h — master.cf requests and edits for `postconf -M/-F/-P`:
// service/type[/name][=value] requests, field and -o views, in-place edits that
// keep every other line as written.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "postern/config/mastercf.h"
#include "postern/util/result.h"

namespace postern::config {

// The eight columns under Postfix's `postconf -F` names.
inline constexpr std::array<std::string_view, 8> kMasterFieldNames = {
    "service", "type", "private", "unprivileged", "chroot", "wakeup", "process_limit", "command"};

// "smtp/inet/chroot" -> {smtp, inet, chroot}; any part may be "*" or missing
// (missing means any) when selecting what to show.
struct MasterPattern {
  std::string service = "*";
  std::string type = "*";
  std::string name = "*";  // field (-F) or parameter (-P); unused for -M
  bool Matches(const MasterService& s) const;
  bool MatchesName(std::string_view n) const { return name == "*" || name == n; }
};
// parts: 2 for -M, 3 for -F and -P. An error for too many parts or empty ones.
Result<MasterPattern> ParseMasterPattern(std::string_view text, int parts);

// The value of one -F field: the column as written; command with its arguments.
std::string MasterFieldValue(const MasterService& s, size_t field);

enum class MasterEditOp {
  kSetEntry,      // -M service/type='whole entry'
  kDeleteEntry,   // -MX service/type
  kCommentEntry,  // -M# service/type
  kSetField,      // -F service/type/field=value
  kSetParam,      // -P service/type/name=value
  kDeleteParam,   // -PX service/type/name
};

struct MasterEdit {
  MasterEditOp op;
  std::string service, type, name, value;
  std::string request;  // the argument as given, for messages
};

// Parses one edit argument for `op`; errors say what shape was expected.
Result<MasterEdit> ParseMasterEdit(std::string_view arg, MasterEditOp op);

struct MasterEditResult {
  std::string text;
  std::vector<std::string> warnings;  // unmatched requests
};

// Applies the edits in order to master.cf text. Edited entries are rewritten in
// postconf -M's folded form; other lines, comments included, stay as they are.
// The result must parse, else nothing is returned but the parse error.
Result<MasterEditResult> EditMasterCf(std::string_view text, const std::vector<MasterEdit>& edits,
                                      std::string_view origin = "master.cf");

}  // namespace postern::config
