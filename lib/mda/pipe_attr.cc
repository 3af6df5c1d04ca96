// mda/pipe_attr.cc — pipe(8) command attributes and argv= macros; see
// pipe_attr.h. Error texts are Postfix's (get_service_attr, parse_callback).
#include "postern/mda/pipe_attr.h"

#include <algorithm>
#include <cctype>

#include "postern/util/strings.h"

namespace postern::mda {

namespace {

constexpr std::string_view kMacros[] = {
    "client_address", "client_helo", "client_hostname", "client_port", "client_protocol",
    "domain",         "extension",   "mailbox",         "nexthop",     "original_recipient",
    "recipient",      "sasl_method", "sasl_sender",     "sasl_username", "sender",
    "size",           "user",
};
constexpr std::string_view kPerRecipient[] = {"domain", "extension", "mailbox", "original_recipient", "recipient",
                                              "user"};

bool HasPrefix(std::string_view arg, std::string_view name, std::string_view* value) {
  if (arg.size() < name.size() || !EqualsIgnoreCase(arg.substr(0, name.size()), name)) return false;
  *value = arg.substr(name.size());
  return true;
}

Result<void> ParseFlags(std::string_view letters, PipeFlags* f) {
  for (char c : letters) {
    switch (c) {
      case 'B': f->blank_line = true; break;
      case 'D': f->delivered_to = true; break;
      case 'F': f->from_line = true; break;
      case 'O': f->orig_to = true; break;
      case 'R': f->return_path = true; break;
      case 'X': f->final_delivery = true; break;
      case 'h': f->fold_host = true; break;
      case 'q': f->quote = true; break;
      case 'u': f->fold_user = true; break;
      case '.': f->dot_stuff = true; break;
      case '>': f->quote_from = true; break;
      default: return Err(std::string("unknown flag: ") + c);
    }
  }
  return {};
}

Result<void> ParseUser(std::string_view value, PipeAttr* a) {
  std::string user(value), group;
  if (size_t colon = user.find(':'); colon != std::string::npos) {
    group = user.substr(colon + 1);
    user.resize(colon);
  }
  auto pw = UserByName(user);
  if (!pw) return Err("unknown username: " + user);
  a->user = *pw;
  if (!group.empty()) {
    auto gid = GroupByName(group);
    if (!gid) return Err("unknown group: " + group);
    a->user.gid = *gid;
  }
  return {};
}

Result<void> CheckUser(const PipeAttr& a, const ForbiddenIds& owner) {
  if (a.user.uid == 0) return Err("user= command-line attribute specifies root privileges");
  if (owner.uid && a.user.uid == *owner.uid)
    return Err("user= command-line attribute specifies mail system owner " + owner.name);
  if (a.user.gid == 0) return Err("user= command-line attribute specifies privileged group id 0");
  if (owner.gid && a.user.gid == *owner.gid)
    return Err("user= command-line attribute specifies mail system owner " + owner.name + " group id " +
               std::to_string(a.user.gid));
  return {};
}

Result<void> CheckMacros(const std::vector<std::string>& argv) {
  for (const std::string& arg : argv)
    if (auto p = ParseMacros(arg); !p) return Err(p.error());
  return {};
}

}  // namespace

std::string Unescape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    char c = text[++i];
    static constexpr std::string_view kFrom = "abfnrtv", kTo = "\a\b\f\n\r\t\v";
    if (size_t k = kFrom.find(c); k != std::string_view::npos) {
      out += kTo[k];
    } else if (c >= '0' && c <= '7') {
      int v = 0, n = 0;
      for (; n < 3 && i < text.size() && text[i] >= '0' && text[i] <= '7'; ++n, ++i) v = v * 8 + (text[i] - '0');
      --i;
      out += char(v);
    } else {
      out += c;
    }
  }
  return out;
}

Result<PipeAttr> ParsePipeAttr(const std::vector<std::string>& args, const ForbiddenIds& owner) {
  PipeAttr a;
  bool have_user = false, have_argv = false;
  size_t i = 0;
  while (i < args.size() && args[i].starts_with("-o")) i += args[i] == "-o" ? 2 : 1;
  for (; i < args.size(); ++i) {
    std::string_view v;
    const std::string& arg = args[i];
    if (HasPrefix(arg, "flags=", &v)) {
      if (auto r = ParseFlags(v, &a.flags); !r) return Err(r.error());
    } else if (HasPrefix(arg, "user=", &v)) {
      if (auto r = ParseUser(v, &a); !r) return Err(r.error());
      have_user = true;
    } else if (HasPrefix(arg, "directory=", &v)) {
      a.directory = std::string(v);
    } else if (HasPrefix(arg, "chroot=", &v)) {
      a.chroot = std::string(v);
    } else if (HasPrefix(arg, "eol=", &v)) {
      a.eol = Unescape(v);
    } else if (HasPrefix(arg, "null_sender=", &v)) {
      a.null_sender = std::string(v);
    } else if (HasPrefix(arg, "size=", &v)) {
      if (v.empty() || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
          v.size() > 18)
        return Err("bad size= value: " + std::string(v));
      a.size_limit = std::stoull(std::string(v));
    } else if (HasPrefix(arg, "argv=", &v)) {
      a.argv.emplace_back(v);
      a.argv.insert(a.argv.end(), args.begin() + long(i) + 1, args.end());
      have_argv = !a.argv[0].empty();
      break;
    } else {
      return Err("unknown attribute name: " + arg);
    }
  }
  if (!have_user) return Err("missing user= command-line attribute");
  if (!have_argv) return Err("missing argv= command-line attribute");
  if (auto r = CheckUser(a, owner); !r) return Err(r.error());
  if (auto r = CheckMacros(a.argv); !r) return Err(r.error());
  return a;
}

Result<std::vector<MacroPiece>> ParseMacros(std::string_view arg) {
  std::vector<MacroPiece> out;
  auto literal = [&](std::string_view t) {
    if (t.empty()) return;
    if (out.empty() || out.back().macro) out.push_back({});
    out.back().text.append(t);
  };
  auto is_name = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  for (size_t i = 0; i < arg.size();) {
    size_t dollar = arg.find('$', i);
    if (dollar == std::string_view::npos) {
      literal(arg.substr(i));
      break;
    }
    literal(arg.substr(i, dollar - i));
    i = dollar + 1;
    if (i == arg.size() || arg[i] == '$') {  // "$$", or a lone '$' at the end
      literal("$");
      i += i < arg.size() ? 1 : 0;
      continue;
    }
    MacroPiece m;
    m.macro = true;
    char open = arg[i], close = open == '{' ? '}' : open == '(' ? ')' : 0;
    if (close) ++i;
    size_t start = i;
    while (i < arg.size() && is_name(arg[i])) ++i;
    m.text = std::string(arg.substr(start, i - start));
    if (m.text.empty()) return Err("bad macro syntax in argv element \"" + std::string(arg) + "\"");
    if (close) {
      if (i < arg.size() && (arg[i] == '?' || arg[i] == ':')) {
        m.cond = arg[i];
        size_t end = arg.find(close, i);
        if (end == std::string_view::npos) return Err("missing '" + std::string(1, close) + "' in \"" + std::string(arg) + "\"");
        m.cond_text = std::string(arg.substr(i + 1, end - i - 1));
        i = end;
      }
      if (i >= arg.size() || arg[i] != close)
        return Err("missing '" + std::string(1, close) + "' in \"" + std::string(arg) + "\"");
      ++i;
    }
    if (std::find(std::begin(kMacros), std::end(kMacros), m.text) == std::end(kMacros))
      return Err("unknown macro name: \"" + m.text + "\"");
    out.push_back(std::move(m));
  }
  return out;
}

bool IsUnknownAccount(std::string_view error) {
  return error.starts_with("unknown username: ") || error.starts_with("unknown group: ");
}

bool PerRecipientMacro(std::string_view name) {
  return std::find(std::begin(kPerRecipient), std::end(kPerRecipient), name) != std::end(kPerRecipient);
}

}  // namespace postern::mda
