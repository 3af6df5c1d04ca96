// postmap/main_postmap.cc — postmap(1): lookup table management.
#include "postern/log/log.h"
#include "postmap.h"

int main(int argc, char** argv) {
  postern::log::InitCommand("postmap");
  return postern::postmap::Main(postern::postmap::Flavor::kPostmap,
                                std::vector<std::string>(argv + 1, argv + argc));
}
