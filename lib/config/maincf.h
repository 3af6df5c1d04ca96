// config/maincf.h — main.cf: Postfix's syntax (logical lines, comments,
// continuation) and lazy recursive $name expansion with loop detection.
// Values are stored as written and expanded on access.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postern/config/params.h"
#include "postern/config/values.h"
#include "postern/util/result.h"

namespace postern::config {

// One `name = value` of main.cf, as written (continuations joined).
struct Assignment {
  std::string name;
  std::string value;
  int line = 0;
};

// Splits Postfix-style text into logical lines: a line that starts with white
// space continues the previous one; blank and `#` lines are dropped.
struct LogicalLine {
  std::string text;
  int line = 0;  // where it starts
};
Result<std::vector<LogicalLine>> SplitLogicalLines(std::string_view text, std::string_view origin);

class Config {
 public:
  Config() = default;

  // Reads DIR/main.cf. A missing, unreadable or malformed file is an error,
  // as in Postfix ("open DIR/main.cf: No such file or directory").
  static Result<Config> Load(const std::string& config_dir);
  static Result<Config> Parse(std::string_view text, std::string_view origin = "main.cf");

  const std::string& config_dir() const { return config_dir_; }
  const std::string& origin() const { return origin_; }
  const std::vector<Assignment>& assignments() const { return assignments_; }

  // `-o name=value` (master.cf, command line): wins over main.cf.
  void Override(std::string_view name, std::string_view value);

  // The value as written: override, else main.cf, else the registry default.
  // nullopt for a name that is neither set nor registered.
  std::optional<std::string> Raw(std::string_view name) const;
  bool IsSet(std::string_view name) const;  // in main.cf or overridden

  // Expanded values. Errors name the parameter and, for loops, the chain.
  Result<std::string> Get(std::string_view name) const;
  Result<std::string> Expand(std::string_view text) const;

  // Typed values of registered (or any) parameters, expanded first.
  Result<std::chrono::seconds> GetTime(std::string_view name) const;
  Result<uint64_t> GetSize(std::string_view name) const;
  Result<bool> GetBool(std::string_view name) const;
  Result<long long> GetInt(std::string_view name) const;
  Result<std::vector<std::string>> GetList(std::string_view name) const;
  Result<std::vector<TableRef>> GetTables(std::string_view name) const;

  // Shorthands for programs that ran Validate() at start-up: a value that is
  // wrong anyway falls back to the registry default.
  std::string Str(std::string_view name) const;
  std::chrono::seconds Time(std::string_view name) const;
  uint64_t Size(std::string_view name) const;
  bool Bool(std::string_view name) const;
  long long Int(std::string_view name) const;
  std::vector<std::string> List(std::string_view name) const;

  // Every problem: malformed values of registered parameters and expansion
  // loops (errors); names set in main.cf that nothing knows (warnings).
  struct Problem {
    bool warning;
    std::string text;
  };
  std::vector<Problem> Validate() const;

 private:
  // One expansion in progress: the names being expanded (loop detection) and
  // the work left, which bounds values that double at each level.
  struct Expansion;
  Result<std::string> ExpandIn(std::string_view text, Expansion* stack) const;
  Result<std::string> GetIn(std::string_view name, Expansion* stack) const;
  Result<std::string> Macro(std::string_view body, Expansion* stack) const;
  Result<std::string> Typed(std::string_view name, ParamType type) const;

  std::string config_dir_;
  std::string origin_ = "main.cf";
  std::vector<Assignment> assignments_;                // file order
  std::map<std::string, size_t, std::less<>> index_;   // name -> last assignment
  std::map<std::string, std::string, std::less<>> overrides_;
};

}  // namespace postern::config
