// man/conf_page_test.cc — postern.conf(5) lists every registry parameter with
// its type and default, and escapes what roff would misread.
#include "conf_page.h"

#include <gtest/gtest.h>

#include "postern/config/params.h"

namespace postern::man {
namespace {

TEST(ConfPage, ListsEveryParameter) {
  std::string page = RenderConfPage();
  for (const auto& def : config::Registry()) {
    std::string entry = ".SH \"" + std::string(def.name) + " (" +
                        std::string(config::ParamTypeName(def.type)) + ")\"";
    EXPECT_NE(page.find(entry), std::string::npos) << def.name;
  }
}

TEST(ConfPage, SectionsDefaultsAndEscapes) {
  std::string page = RenderConfPage();
  struct { const char* what; const char* text; } cases[] = {
      {"title", ".TH POSTERN.CONF 5"},
      {"syntax section", ".SH SYNTAX"},
      {"conditional expansion documented", "${\\fIname\\fB?\\fIvalue\\fB}"},
      {"a literal default", "Default: \\fBmyorigin = $myhostname\\fR"},
      {"an empty default", "Default: \\fBrelayhost =\\fR (empty)"},
      {"a computed default", "computed at run time"},
      {"a time unit", "without a unit means days"},
  };
  for (const auto& c : cases) EXPECT_NE(page.find(c.text), std::string::npos) << c.what;
  // No generated line may start with a character roff treats as a request.
  size_t pos = 0;
  while ((pos = page.find("\n'", pos)) != std::string::npos) ADD_FAILURE() << "line at " << pos++;
}

}  // namespace
}  // namespace postern::man
