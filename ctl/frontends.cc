// ctl/frontends.cc — what the Postfix front ends share: Postfix's
// short-option parsing, the configuration directory, destination names.
#include "ctl/frontends.h"

#include <dirent.h>

#include <cctype>
#include <climits>
#include <cstdlib>
#include <memory>

#include "postern/config/layout.h"

namespace postern::ctl {

Result<ParsedOpts> ParseShortOptions(const std::vector<std::string>& args, std::string_view with_value,
                                     std::string_view flags) {
  ParsedOpts out;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a.size() < 2 || a[0] != '-') break;  // an operand ("-" alone is one too)
    for (size_t k = 1; k < a.size(); ++k) {
      char c = a[k];
      if (with_value.find(c) != std::string_view::npos) {
        if (k + 1 < a.size()) {
          out.opts.push_back({c, a.substr(k + 1)});
        } else if (i + 1 < args.size()) {
          out.opts.push_back({c, args[++i]});
        } else {
          return Err(std::string("option requires an argument -- '") + c + "'");
        }
        break;
      }
      if (flags.find(c) == std::string_view::npos) return Err(std::string("invalid option -- '") + c + "'");
      out.opts.push_back({c, ""});
    }
  }
  out.operands.assign(args.begin() + long(i), args.end());
  return out;
}

Result<Loaded> LoadFrontendConfig(const std::string& dash_c) {
  std::string dir = dash_c;
  if (dir.empty())
    if (const char* env = std::getenv("MAIL_CONFIG"); env && *env) dir = env;
  dir = config::ConfigDir(dir);
  if (char real[PATH_MAX]; realpath(dir.c_str(), real)) dir = real;
  auto cfg = config::Config::Load(dir);
  if (!cfg) return Err(cfg.error());
  return Loaded{dir, std::move(*cfg)};
}

void ForEachMaildropFile(const config::Config& cfg,
                         const std::function<void(const std::string&, const std::string&, const struct stat&)>& fn) {
  std::string dir = cfg.Str("queue_directory") + "/maildrop";
  std::unique_ptr<DIR, int (*)(DIR*)> d(opendir(dir.c_str()), closedir);
  if (!d) return;
  while (dirent* e = readdir(d.get())) {
    std::string name = e->d_name, path = dir + "/" + name;
    struct stat st;
    if (lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) fn(name, path, st);
  }
}

bool ValidSite(std::string_view site) {
  if (site.empty() || site.size() > 255) return false;
  if (site.front() == '[') return site.size() > 2 && site.back() == ']';
  for (char c : site)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') return false;
  return site.front() != '.' && site.front() != '-';
}

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "[host]:port" or "host:port" → "host"; "[1.2.3.4]" → "1.2.3.4".
std::string HostOf(std::string_view nexthop) {
  if (!nexthop.empty() && nexthop.front() == '[') {
    size_t close = nexthop.find(']');
    return Lower(nexthop.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1));
  }
  return Lower(nexthop.substr(0, nexthop.find(':')));
}

}  // namespace

bool SiteMatches(const queue::Envelope& e, std::string_view site) {
  std::string want = Lower(site.front() == '[' ? site.substr(1, site.size() - 2) : site);
  size_t at = e.recipient.rfind('@');
  if (at != std::string::npos && site.front() != '[' && Lower(e.recipient.substr(at + 1)) == want) return true;
  return !e.nexthop.empty() && HostOf(e.nexthop) == want;
}

}  // namespace postern::ctl
