// man/conf_page.h — renders postern.conf(5) from the parameter registry, so
// the page can never list a parameter the programs do not know, or miss one.
#pragma once

#include <string>

namespace postern::man {

// The whole roff page: syntax rules, then every registry parameter with its
// type, default and description.
std::string RenderConfPage();

}  // namespace postern::man
