// man/gen_postern_conf.cc — build-time tool: writes postern.conf(5) (from the
// registry) to the file named by its one argument.
#include <cstdio>
#include <string>

#include "conf_page.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: gen_postern_conf OUTPUT\n");
    return 1;
  }
  std::string page = postern::man::RenderConfPage();
  std::FILE* f = std::fopen(argv[1], "w");
  if (!f) {
    std::perror(argv[1]);
    return 1;
  }
  bool ok = std::fwrite(page.data(), 1, page.size(), f) == page.size();
  ok = std::fclose(f) == 0 && ok;
  if (!ok) std::perror(argv[1]);
  return ok ? 0 : 1;
}
