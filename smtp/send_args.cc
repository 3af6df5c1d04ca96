// smtp/send_args.cc — postern send's command line, destination forms and
// .domain rewriting; see send_args.h.
#include "smtp/send_args.h"

#include <getopt.h>

#include <array>

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

namespace {

struct Span {
  size_t pos, len;
};

// The addr-spec spans of an address-list header value (RFC 5322: quoted
// strings, comments, <angle addresses>, groups).
std::vector<Span> AddressSpans(std::string_view v) {
  std::vector<Span> out;
  size_t first = std::string_view::npos, last = 0;  // significant bytes of a bare element
  // A comment between significant bytes makes the bare address ambiguous: left alone.
  bool angle_seen = false, after_comment = false, comment_inside = false;
  auto end_element = [&] {
    if (!angle_seen && first != std::string_view::npos && !comment_inside) out.push_back({first, last + 1 - first});
    first = std::string_view::npos;
    angle_seen = after_comment = comment_inside = false;
  };
  auto significant = [&](size_t at) {
    if (first == std::string_view::npos) first = at;
    else if (after_comment) comment_inside = true;
    last = at;
  };
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c == '"') {
      significant(i);
      for (++i; i < v.size() && v[i] != '"'; ++i)
        if (v[i] == '\\') ++i;
      last = std::min(i, v.size() - 1);
    } else if (c == '(') {
      int depth = 1;
      for (++i; i < v.size() && depth > 0; ++i) {
        if (v[i] == '\\') ++i;
        else if (v[i] == '(') ++depth;
        else if (v[i] == ')') --depth;
      }
      --i;
      after_comment = first != std::string_view::npos;
    } else if (c == '<') {
      size_t close = v.find('>', i);
      if (close == std::string_view::npos) break;
      size_t start = i + 1;
      // An obsolete source route (<@a,@b:user@host>): the address is after the colon.
      if (size_t colon = v.substr(start, close - start).rfind(':'); colon != std::string_view::npos)
        start += colon + 1;
      out.push_back({start, close - start});
      angle_seen = true;
      i = close;
    } else if (c == ',' || c == ';') {
      end_element();
    } else if (c == ':') {
      first = std::string_view::npos;  // a group's name, not an address
      after_comment = comment_inside = false;
    } else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
      significant(i);
    }
  }
  end_element();
  return out;
}

std::string QualifyList(std::string_view value, std::string_view domain) {
  std::string out;
  size_t at = 0;
  for (const Span& s : AddressSpans(value)) {
    out.append(value.substr(at, s.pos - at));
    std::string_view addr = value.substr(s.pos, s.len);
    out += addr.empty() ? std::string() : Qualify(addr, domain);
    at = s.pos + s.len;
  }
  out.append(value.substr(at));
  return out;
}

bool AddressHeader(std::string_view name) {
  static constexpr std::array<std::string_view, 11> kNames = {
      "from", "to", "cc", "bcc", "sender", "reply-to", "resent-from", "resent-to", "resent-cc", "resent-bcc",
      "resent-sender"};
  std::string lower = ToLower(name);
  for (auto n : kNames)
    if (lower == n) return true;
  return false;
}

void FlushHeader(std::string_view header, std::string_view domain, std::string* out) {
  size_t colon = header.find(':');
  if (colon == std::string_view::npos || !AddressHeader(Trim(header.substr(0, colon)))) {
    out->append(header);
    return;
  }
  out->append(header.substr(0, colon + 1));
  out->append(QualifyList(header.substr(colon + 1), domain));
}

}  // namespace

std::string QualifyHeaders(std::string_view message, std::string_view domain) {
  if (domain.empty()) return std::string(message);
  std::string out;
  out.reserve(message.size() + 64);
  size_t pos = 0, header_start = 0;
  while (pos < message.size()) {
    size_t eol = message.find('\n', pos);
    size_t next = eol == std::string_view::npos ? message.size() : eol + 1;
    std::string_view line = message.substr(pos, next - pos);
    bool continuation = !line.empty() && (line[0] == ' ' || line[0] == '\t');
    bool blank = line == "\n" || line == "\r\n";
    if (!continuation) {
      FlushHeader(message.substr(header_start, pos - header_start), domain, &out);
      header_start = pos;
      if (blank) break;
    }
    pos = next;
  }
  if (pos >= message.size()) FlushHeader(message.substr(header_start, pos - header_start), domain, &out);
  else out.append(message.substr(pos));
  return out;
}

}  // namespace postern::smtp_client
