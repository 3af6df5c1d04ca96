// postmap/main_newaliases.cc — newaliases: rebuilds every alias_database table.
#include "postern/log/log.h"
#include "postmap.h"

int main(int argc, char** argv) {
  postern::log::InitCommand("newaliases");
  return postern::postmap::NewAliases(std::vector<std::string>(argv + 1, argv + argc));
}
