// postmap/main_postalias.cc — postalias(1): alias database management.
#include "postern/log/log.h"
#include "postmap.h"

int main(int argc, char** argv) {
  postern::log::InitCommand("postalias");
  return postern::postmap::Main(postern::postmap::Flavor::kPostalias,
                                std::vector<std::string>(argv + 1, argv + argc));
}
