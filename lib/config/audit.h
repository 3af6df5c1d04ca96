// config/audit.h — `postern check`'s view of Postfix compatibility: restriction
// names and table types in main.cf (or a service's -o overrides), each an
// error (a service would break) or a warning (a Postfix feature postern lacks).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "postern/config/maincf.h"

namespace postern::config {

struct Finding {
  bool warning;  // false: an error that check and start refuse
  std::string text;
};

// Restriction lists and table references of the parameters that `only`
// accepts (every parameter when empty). Malformed values are Validate()'s.
std::vector<Finding> AuditCompat(const Config& cfg, const std::function<bool(std::string_view)>& only = {});

// The first restriction list (or class) of those `only` accepts that names
// restriction `name`; "" when none does.
std::string RestrictionUse(const Config& cfg, std::string_view name,
                           const std::function<bool(std::string_view)>& only = {});

// Every table that main.cf names, with the parameter naming it: in the
// restriction lists (check_*_access) and in table parameters.
struct NamedTable {
  std::string param;
  TableRef ref;
};
std::vector<NamedTable> NamedTables(const Config& cfg);

// alias_maps file tables whose database is missing (a fresh install before
// newaliases): warnings naming the command that builds them. `config_opt` is
// what that command needs to find this instance (" -c DIR", or empty).
std::vector<Finding> AuditAliasDatabases(const Config& cfg, std::string_view config_opt = {});

}  // namespace postern::config
