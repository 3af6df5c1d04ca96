// smtpd/dovecot_proto.cc — Dovecot auth protocol lines; see dovecot_proto.h.
// Total on arbitrary input: a line that is not what it should be is "bad".
#include "smtpd/dovecot_proto.h"

#include <algorithm>

#include "postern/util/strings.h"

namespace postern::smtpd::dovecot {

namespace {

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> f;
  size_t start = 0;
  for (;;) {
    size_t tab = line.find('\t', start);
    f.push_back(line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start));
    if (tab == std::string_view::npos) return f;
    start = tab + 1;
  }
}

std::string Upper(std::string_view s) {
  std::string u(s);
  for (char& c : u)
    if (c >= 'a' && c <= 'z') c = char(c - 'a' + 'A');
  return u;
}

// What goes into a request field must not end or split it.
std::string Clean(std::string_view s) {
  std::string out;
  for (char c : s)
    if (c != '\t' && c != '\n' && c != '\r' && c != '\001') out += c;
  return out;
}

bool ParseId(std::string_view s, unsigned* id) {
  unsigned long long n = 0;
  if (!ParseUnsigned(s, &n) || n == 0 || n > 0xffffffffULL) return false;
  *id = unsigned(n);
  return true;
}

}  // namespace

Handshake::State Handshake::Bad(std::string why) {
  error_ = std::move(why);
  return State::kBad;
}

Handshake::State Handshake::Feed(std::string_view line) {
  auto f = Fields(line);
  if (f[0] == "VERSION") {
    if (f.size() < 3 || f[1] != "1") return Bad("unsupported protocol version " + std::string(line.substr(0, 40)));
    version_ = true;
    return State::kMore;
  }
  if (!version_) return Bad("no VERSION line from the server");
  if (f[0] == "MECH") {
    if (f.size() < 2 || f[1].empty() || f[1].size() > 20) return Bad("bad MECH line");
    Mechanism m;
    m.name = Upper(f[1]);
    for (size_t i = 2; i < f.size(); ++i) {
      std::string_view p = f[i];
      if (p == "anonymous") m.anonymous = true;
      else if (p == "plaintext") m.plaintext = true;
      else if (p == "dictionary") m.dictionary = true;
      else if (p == "active") m.active = true;
      else if (p == "forward-secrecy") m.forward_secrecy = true;
      else if (p == "mutual-auth") m.mutual_auth = true;
    }
    if (mechs_.size() < 64) mechs_.push_back(std::move(m));
    return State::kMore;
  }
  if (f[0] == "DONE") return State::kDone;
  return State::kMore;  // SPID, CUID, COOKIE and whatever later versions add
}

std::string ClientHello(long pid) { return "VERSION\t1\t2\nCPID\t" + std::to_string(pid) + "\n"; }

std::string EncodeAuth(const AuthRequest& r) {
  std::string s = "AUTH\t" + std::to_string(r.id) + "\t" + Clean(r.mechanism) + "\tservice=" + Clean(r.service) +
                  "\tnologin";
  if (r.secured) s += "\tsecured";
  if (!r.local_addr.empty()) s += "\tlip=" + Clean(r.local_addr);
  if (!r.remote_addr.empty()) s += "\trip=" + Clean(r.remote_addr);
  if (r.local_port) s += "\tlport=" + std::to_string(r.local_port);
  if (r.remote_port) s += "\trport=" + std::to_string(r.remote_port);
  if (r.initial) s += "\tresp=" + Clean(*r.initial);
  return s + "\n";
}

std::string EncodeCont(unsigned id, std::string_view response) {
  return "CONT\t" + std::to_string(id) + "\t" + Clean(response) + "\n";
}

std::optional<Reply> ParseReply(std::string_view line) {
  auto f = Fields(line);
  if (f.size() < 2) return std::nullopt;
  Reply r;
  if (f[0] == "OK") r.kind = Reply::Kind::kOk;
  else if (f[0] == "FAIL") r.kind = Reply::Kind::kFail;
  else if (f[0] == "CONT") r.kind = Reply::Kind::kCont;
  else return std::nullopt;
  if (!ParseId(f[1], &r.id)) return std::nullopt;
  if (r.kind == Reply::Kind::kCont) {
    if (f.size() > 2) r.data = std::string(f[2]);
    return r;
  }
  for (size_t i = 2; i < f.size(); ++i) {
    std::string_view p = f[i];
    if (p.starts_with("user=")) r.user = Unescape(p.substr(5));
    else if (p.starts_with("reason=")) r.reason = Unescape(p.substr(7));
    else if (p == "temp") r.temp = true;
  }
  return r;
}

std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\001' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    switch (s[++i]) {
      case '1': out += '\001'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case 'n': out += '\n'; break;
      default: out += s[i];
    }
  }
  return out;
}

std::vector<std::string> Allowed(const std::vector<Mechanism>& mechs, const std::vector<std::string>& options) {
  auto has = [&](std::string_view o) {
    return std::any_of(options.begin(), options.end(), [&](const std::string& x) { return EqualsIgnoreCase(x, o); });
  };
  std::vector<std::string> out;
  for (const Mechanism& m : mechs) {
    if ((m.anonymous && has("noanonymous")) || (m.plaintext && has("noplaintext")) ||
        (m.active && has("noactive")) || (m.dictionary && has("nodictionary")) ||
        (!m.mutual_auth && has("mutual_auth")) || (!m.forward_secrecy && has("forward_secrecy")))
      continue;
    out.push_back(m.name);
  }
  return out;
}

}  // namespace postern::smtpd::dovecot
