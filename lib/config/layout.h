// config/layout.h — where this installation keeps its programs and its
// configuration, worked out from the running executable so that an install
// tree (`make install PREFIX=DIR`) and the build tree both work unconfigured.
#pragma once

#include <string>
#include <string_view>

namespace postern::config {

struct Layout {
  std::string command_dir;  // postern, postconf, ... (DIR/sbin, or the build's bin/)
  std::string daemon_dir;   // master and workers (DIR/libexec/postern, or bin/)
  std::string config_dir;   // DIR/etc/postern; /etc/postern for /usr and the build tree
};

// Computed once from /proc/self/exe.
const Layout& InstallLayout();

// The configuration directory a program uses: its -c argument if given,
// else $POSTERN_CONFIG_DIR, else the layout's.
std::string ConfigDir(std::string_view dash_c = {});

}  // namespace postern::config
