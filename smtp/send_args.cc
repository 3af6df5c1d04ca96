// smtp/send_args.cc — postern send's command line, destination forms and
// .domain rewriting; see send_args.h.
#include "smtp/send_args.h"

#include <getopt.h>

#include "postern/cleanup/header_edit.h"
#include "postern/rewrite/header_address.h"
#include "postern/route/route.h"
#include "postern/util/strings.h"

namespace postern::smtp_client {

namespace {

constexpr std::string_view kUsage =
    "usage: postern send [-aAdfiops] [-b busted-mx]... [-g gateway] [-h host] [-u user] [.domain] "
    "destaddr sender rcpt...";

bool Flag(int c, SendOptions* o) {
  switch (c) {
    case 'a': o->auth = true; return true;
    case 'A': o->ehlo_first = true; return true;
    case 'd': o->dialogue = true; return true;
    case 'f': o->filter = true; return true;
    case 'i': o->auth_without_tls = true; return true;
    case 'o': o->tls_may = true; return true;
    case 'p': o->ping = true; return true;
    case 's': o->tls_encrypt = true; return true;
    default: return false;
  }
}

}  // namespace

Result<SendOptions> ParseSendArgs(int argc, char** argv) {
  SendOptions o;
  optind = 0;  // glibc: a full reset, as this may run more than once (tests)
  opterr = 0;
  for (int c; (c = getopt(argc, argv, "+C:aAb:dfg:h:iopsu:")) != -1;) {
    if (Flag(c, &o)) continue;
    switch (c) {
      case 'C': o.config_dir = optarg; break;
      case 'b': o.busted.push_back(ToLower(optarg)); break;
      case 'g': o.gateway = optarg; break;
      case 'h': o.helo = optarg; break;
      case 'u': o.user = optarg; break;
      default: return Err("bad option -" + std::string(1, char(optopt)) + "\n" + std::string(kUsage));
    }
  }
  std::vector<std::string> rest(argv + optind, argv + argc);
  size_t i = 0;
  if (i < rest.size() && rest[i].size() > 1 && rest[i][0] == '.') o.domain = rest[i++].substr(1);
  if (rest.size() - i < 3) return Err(std::string(kUsage));
  o.destaddr = rest[i++];
  auto hop = DestNexthop(o.destaddr);
  if (!hop) return Err("bad destaddr " + o.destaddr + ": " + hop.error());
  o.nexthop = std::move(*hop);
  if (!o.gateway.empty()) {
    auto g = DestNexthop(o.gateway);
    if (!g) return Err("bad gateway " + o.gateway + ": " + g.error());
    o.gateway = std::move(*g);
  }
  o.sender = rest[i++] == "<>" ? "" : rest[i - 1];
  o.recipients.assign(rest.begin() + long(i), rest.end());
  if (o.auth && !o.auth_without_tls) o.tls_encrypt = true;  // -a implies -s
  if (!o.domain.empty()) {
    o.sender = Qualify(o.sender, o.domain);
    for (auto& r : o.recipients) r = Qualify(r, o.domain);
  }
  return o;
}

Result<std::string> DestNexthop(std::string_view destaddr) {
  std::string text(destaddr);
  if (size_t bang = text.find('!'); bang != std::string::npos) {
    std::string net = text.substr(0, bang), rest = text.substr(bang + 1);
    if (net != "tcp" && net != "net") return Err("network " + net + ": only tcp (or net) is dialed");
    size_t bang2 = rest.find('!');
    std::string host = rest.substr(0, bang2);
    if (host.empty()) return Err("no host");
    text = "[" + host + "]";
    if (bang2 != std::string::npos) text += ":" + rest.substr(bang2 + 1);
  }
  auto parsed = route::ParseNexthop(text);
  if (!parsed) return Err(parsed.error());
  if (parsed->kind == route::Nexthop::Kind::kUnix) return Err("smtp cannot deliver to a unix socket");
  return text;
}

std::string Qualify(std::string_view address, std::string_view domain) {
  std::string a(address);
  if (a.empty() || domain.empty()) return a;
  size_t at = a.rfind('@');
  if (at == std::string::npos) return a + "@" + std::string(domain);
  std::string_view host = std::string_view(a).substr(at + 1);
  if (host.empty() || host[0] == '[' || host.find('.') != std::string_view::npos) return a;
  return a + "." + std::string(domain);
}

std::string QualifyHeaders(std::string_view message, std::string_view domain) {
  if (domain.empty()) return std::string(message);
  std::string d(domain);
  auto qualify = [&d](std::string_view a, rewrite::AddressClass) -> Result<std::string> { return Qualify(a, d); };
  // The one header address parser (lib/rewrite), as smtp_generic_maps and canonical maps use it.
  cleanup::HeaderEditor editor(
      [&qualify](std::string* h) {
        (void)rewrite::RewriteAddressHeader(h, [](rewrite::AddressClass) { return true; }, qualify);
      },
      size_t{1} << 20);
  std::string out(message);
  editor.Apply(&out, 0);
  editor.Finish(&out);
  return out;
}

}  // namespace postern::smtp_client
