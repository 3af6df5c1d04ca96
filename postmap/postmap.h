// postmap/postmap.h — the shared engine of postmap(1), postalias(1) and
// newaliases: build, query, delete and dump lookup tables via lib/table.
#pragma once

#include <string>
#include <vector>

namespace postern::postmap {

enum class Flavor { kPostmap, kPostalias };

// Runs the command with its argv (argv[0] excluded); returns the exit status.
int Main(Flavor flavor, const std::vector<std::string>& args);

// newaliases: postalias on every table of alias_database. `args` may hold
// "-c DIR".
int NewAliases(const std::vector<std::string>& args);

}  // namespace postern::postmap
