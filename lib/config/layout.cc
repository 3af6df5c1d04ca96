// config/layout.cc — install layout from /proc/self/exe (see layout.h).
#include "postern/config/layout.h"

#include <unistd.h>

#include <climits>
#include <cstdlib>

namespace postern::config {

static std::string Dirname(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

static bool EndsWith(const std::string& s, std::string_view tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

static Layout Compute() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  std::string exe = n > 0 ? std::string(buf, size_t(n)) : std::string("/usr/sbin/postern");
  std::string dir = Dirname(exe);
  std::string root;
  if (EndsWith(dir, "/sbin")) root = Dirname(dir);
  else if (EndsWith(dir, "/libexec/postern")) root = Dirname(Dirname(dir));
  if (root.empty())  // the build tree: everything in one bin/ folder
    return Layout{dir, dir, "/etc/postern"};
  std::string top = root == "/" ? "" : root;
  return Layout{top + "/sbin", top + "/libexec/postern",
                root == "/usr" || root == "/" ? "/etc/postern" : top + "/etc/postern"};
}

const Layout& InstallLayout() {
  static const Layout layout = Compute();
  return layout;
}

std::string ConfigDir(std::string_view dash_c) {
  if (!dash_c.empty()) return std::string(dash_c);
  if (const char* env = std::getenv("POSTERN_CONFIG_DIR"); env && *env) return env;
  return InstallLayout().config_dir;
}

}  // namespace postern::config
