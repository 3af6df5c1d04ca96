// local/deliver.cc — the recursion of one local delivery: loop checks,
// aliases, .forward, :include:, and the choice of the final destination.
// Mailbox writing is in lib/mda/mailbox.cc, commands in command.cc, re-submission
// of forwarded mail in forward.cc.
#include "local/deliver.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include "postern/event/event.h"
#include "postern/log/log.h"
#include "postern/mda/command.h"
#include "postern/rewrite/virtual.h"
#include "postern/util/strings.h"

namespace postern::local {

namespace {

constexpr int kMaxLevel = 100;              // Postfix's alias nesting limit
constexpr size_t kMaxDestinations = 1000;   // entries taken from one alias/.forward/:include:
constexpr size_t kMaxFileSize = 1 << 20;    // largest .forward or :include: file read

int Rank(Verdict::Kind k) { return k == Verdict::Kind::kDefer ? 2 : k == Verdict::Kind::kBounce ? 1 : 0; }

// Reads a small file already opened with the right privileges.
std::string ReadSmall(int fd, bool* truncated) {
  std::string text;
  char buf[8192];
  *truncated = false;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, size_t(n));
    if (text.size() > kMaxFileSize) {
      text.resize(kMaxFileSize);
      *truncated = true;
      break;
    }
  }
  return text;
}

void SplitAddress(const std::string& address, std::string* local, std::string* domain) {
  size_t at = address.rfind('@');
  *local = ToLower(at == std::string::npos ? address : address.substr(0, at));
  *domain = at == std::string::npos ? "" : ToLower(address.substr(at + 1));
}

}  // namespace

RecipientDelivery::RecipientDelivery(Agent& agent, Message& msg, const ipc::DeliveryRecipient& rcpt,
                                     std::chrono::steady_clock::time_point started)
    : agent_(agent), s_(agent.settings), msg_(msg), rcpt_(rcpt), started_(started) {
  orig_ = mda::OriginalRecipient(rcpt);
}

ipc::DeliveryResult RecipientDelivery::Run() {
  Attr top;
  top.recipient = rcpt_.address;
  Verdict v = Recipient(top);
  Flush();
  // An expansion that delivered nowhere (an empty alias) still needs its line.
  if (finals_ == 0) Final(top, v.text.empty() ? Verdict::Sent("discarded") : v);
  return mda::ResultOf(rcpt_.envelope_id, *worst_, relay_);
}

void RecipientDelivery::Merge(const Verdict& v) {
  ++finals_;
  if (!worst_ || Rank(v.kind) > Rank(worst_->kind)) worst_ = v;
}

Verdict RecipientDelivery::Final(const Attr& a, Verdict v) {
  Merge(v);
  mda::LogDelivery(msg_, a.recipient, orig_, "local", started_, v);
  return v;
}

std::optional<Creds> RecipientDelivery::Rights(std::optional<Creds> c) const {
  if (!Privileged()) return std::nullopt;
  if (!c || c->uid == 0) return agent_.default_privs;
  return c;
}

// deliver_recipient: one address at one level of the expansion.
Verdict RecipientDelivery::Recipient(Attr a) {
  ++a.level;
  if (a.level > kMaxLevel)
    return Final(a, Verdict::Bounce("5.4.6", "possible mail forwarding loop for " + a.recipient));
  std::string lower = ToLower(a.recipient);
  if (!seen_.insert("recipient " + std::to_string(a.level) + " " + lower).second) return Verdict::Sent("");
  for (const std::string& d : msg_.delivered_to) {
    if (d == lower) return Final(a, Verdict::Bounce("5.4.6", "mail forwarding loop for " + a.recipient));
  }
  if (a.delivered.empty()) a.delivered = lower;
  std::string local, domain, user, ext;
  SplitAddress(a.recipient, &local, &domain);
  user = local;
  bool special = s_.owner_request_special && (local.starts_with("owner-") || local.ends_with("-request"));
  char delim = 0;
  std::string base;
  if (!special && rewrite::SplitExtension(local, s_.recipient_delimiter, &base, &ext, &delim)) {
    if (ext.find('/') != std::string::npos) {
      log::Warning("{}: address with illegal extension: {}", msg_.msgid, local);
      ext.clear();
    } else {
      user = base;
    }
  }
  if (user.empty()) return Final(a, Verdict::Bounce("5.1.3", "null username in " + a.recipient));
  return Switch(a, local, user, ext, domain);
}

Verdict RecipientDelivery::Switch(Attr& a, const std::string& local, const std::string& user,
                                  const std::string& ext, const std::string& domain) {
  Verdict v;
  a.unmatched.clear();
  if (Alias(a, local, &v)) return v;
  if (!ext.empty()) {
    a.unmatched = s_.propagate_alias ? ext : "";
    if (Alias(a, user, &v)) return v;
  }
  a.unmatched = ext;
  // Postfix: mail for a local user reached through an alias with an owner-
  // alias, or through an :include: file, is re-submitted so that each such
  // recipient gets its own queue entry.
  if (!a.owner.empty() || a.exp == Exp::kInclude) return Indirect(a);
  auto pw = UserByName(user);
  if (!pw) return Final(a, Verdict::Bounce("5.1.1", "unknown user: \"" + user + "\""));
  if (DotForward(a, *pw, local, ext, domain, &v)) return v;
  return Mailbox(a, user);
}

bool RecipientDelivery::Alias(Attr& a, const std::string& name, Verdict* v) {
  if (!a.exp_from.empty() && EqualsIgnoreCase(a.exp_from, name)) return false;  // "root: root, ..." → the user
  for (size_t i = 0; i < agent_.aliases.size(); ++i) {
    auto hit = agent_.aliases[i]->Lookup(name);
    if (!hit) {
      log::Warning("{}: {}: {}", msg_.msgid, agent_.aliases[i]->name(), hit.error());
      *v = Final(a, Verdict::Defer("4.3.0", "alias database unavailable"));
      return true;
    }
    if (!*hit) continue;
    Attr child = a;
    child.exp = Exp::kAlias;
    child.exp_from = name;
    child.delivered = a.recipient;
    child.owner.clear();
    // Commands and files of an alias run with the rights of the alias
    // database's owner, or default_privs when root owns it.
    child.rights.reset();
    if (Privileged()) {
      std::optional<uid_t> owner = agent_.alias_owners[i];
      if (owner && *owner != 0) {
        child.rights = UserById(*owner);
        if (!child.rights) {
          *v = Final(a, Verdict::Defer("4.3.0", "cannot find alias database owner"));
          return true;
        }
      } else {
        child.rights = agent_.default_privs;
      }
    }
    if (s_.owner_request_special) {
      std::string owner_name = "owner-" + name;
      for (size_t j = 0; j < agent_.aliases.size(); ++j) {
        auto o = agent_.aliases[j]->Lookup(owner_name);
        if (!o || !*o) continue;
        auto list = ParseDestinations(**o, 1);
        child.owner = s_.expand_owner_alias && !list.empty() && list[0].kind == Destination::Kind::kAddress
                          ? list[0].text
                          : owner_name + "@" + s_.myorigin;
        break;
      }
    }
    *v = Tokens(child, **hit, "alias");
    return true;
  }
  if (EqualsIgnoreCase(name, "mailer-daemon") || EqualsIgnoreCase(name, "postmaster")) {
    log::Warning("required alias not found: {}", name);
    *v = Final(a, Verdict::Sent("discarded"));
    return true;
  }
  return false;
}

bool RecipientDelivery::DotForward(Attr& a, const Creds& pw, const std::string& local, const std::string& ext,
                                   const std::string& domain, Verdict* v) {
  // A user who lists herself in her .forward gets the mail in her mailbox.
  if (seen_.count("forward " + pw.name)) return false;
  AttrLookup attrs = [&](std::string_view n) -> std::optional<std::string> {
    if (n == "user") return pw.name;
    if (n == "home") return pw.home;
    if (n == "shell") return pw.shell;
    if (n == "recipient") return a.recipient;
    if (n == "extension") return ext.empty() ? std::nullopt : std::optional<std::string>(ext);
    if (n == "domain") return domain;
    if (n == "local") return local;
    if (n == "recipient_delimiter")
      return s_.recipient_delimiter.empty() ? std::nullopt
                                            : std::optional<std::string>(s_.recipient_delimiter.substr(0, 1));
    return std::nullopt;
  };
  std::optional<Creds> rights = Rights(pw);
  for (const std::string& element : s_.forward_path) {
    std::optional<std::string> path = ExpandAttributes(element, attrs);
    if (!path || path->empty() || (*path)[0] != '/') continue;
    std::string text;
    bool truncated = false;
    {
      EffectiveUser as(rights);
      if (!as.error().empty()) {
        *v = Final(a, Verdict::Defer("4.3.0", as.error()));
        return true;
      }
      Fd fd(open(path->c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
      if (!fd.valid()) {
        if (errno != ENOENT && errno != ENOTDIR)
          log::Warning("{}: cannot open {}: {}", msg_.msgid, *path, std::strerror(errno));
        continue;
      }
      struct stat st {};
      if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      if (st.st_uid != pw.uid && st.st_uid != 0 && st.st_uid != geteuid()) {
        log::Warning("{}: file {} is owned by uid {}, not by {}: ignored", msg_.msgid, *path, st.st_uid, pw.name);
        continue;
      }
      text = ReadSmall(fd.get(), &truncated);
    }
    if (truncated) log::Warning("{}: {} is larger than {} bytes: the rest is ignored", msg_.msgid, *path, kMaxFileSize);
    seen_.insert("forward " + pw.name);
    Attr child = a;
    child.exp = Exp::kForward;
    child.exp_from = local;
    child.owner.clear();
    child.rights = rights;
    child.delivered = a.recipient;
    child.unmatched = s_.propagate_forward ? ext : "";
    *v = Tokens(child, text, "forward");
    return true;
  }
  return false;
}

Verdict RecipientDelivery::Tokens(Attr& a, std::string_view text, const char* origin) {
  bool truncated = false;
  std::vector<Destination> list = ParseDestinations(text, kMaxDestinations, &truncated);
  if (log::Tracing("expand")) {
    std::string what;
    for (const Destination& d : list) {
      static constexpr const char* kPrefix[] = {"", "\\", "|", "", ":include:"};
      what += (what.empty() ? "" : ", ") + std::string(kPrefix[int(d.kind)]) + d.text;
    }
    log::Trace("expand", "{}: {} expansion of <{}>: {} destination(s): {}", msg_.msgid, origin, a.recipient,
               list.size(), what.empty() ? "none" : what);
  }
  if (truncated)
    log::Warning("{}: {} expansion of {} has more than {} entries: the rest is ignored", msg_.msgid, origin,
                 a.recipient, kMaxDestinations);
  Verdict worst = Verdict::Sent("");
  for (const Destination& d : list) {
    Verdict v = Token(a, d);
    if (Rank(v.kind) > Rank(worst.kind)) worst = v;
  }
  return worst;
}

Verdict RecipientDelivery::Token(Attr& a, const Destination& d) {
  auto allowed = [&](const Sources& s) {
    return (a.exp == Exp::kAlias && s.alias) || (a.exp == Exp::kForward && s.forward) ||
           (a.exp == Exp::kInclude && s.include);
  };
  switch (d.kind) {
    case Destination::Kind::kAddress: {
      std::string addr = d.text;
      if (!a.unmatched.empty() && !s_.recipient_delimiter.empty()) {
        size_t at = addr.rfind('@');
        addr.insert(at == std::string::npos ? addr.size() : at, s_.recipient_delimiter.substr(0, 1) + a.unmatched);
      }
      return Address(a, std::move(addr));
    }
    case Destination::Kind::kMailbox: {
      Attr child = a;
      child.recipient = d.text.find('@') == std::string::npos ? d.text + "@" + s_.myorigin : d.text;
      std::string local, domain;
      SplitAddress(child.recipient, &local, &domain);
      return Mailbox(child, local);
    }
    case Destination::Kind::kCommand:
      if (!allowed(s_.commands)) return Final(a, Verdict::Bounce("5.7.1", "mail to command is restricted"));
      return Command(a, d.text, a.rights, "");
    case Destination::Kind::kFile:
      if (!allowed(s_.files)) return Final(a, Verdict::Bounce("5.7.1", "mail to file is restricted"));
      return File(a, d.text);
    case Destination::Kind::kInclude:
      return Include(a, d.text);
  }
  return Verdict::Sent("");
}

// deliver_resolve_addr: an address from an expansion is delivered here when
// it routes to this transport, else re-submitted.
Verdict RecipientDelivery::Address(Attr& a, std::string address) {
  if (address.find('@') == std::string::npos) address += "@" + s_.myorigin;
  Attr child = a;
  child.recipient = address;
  auto route = agent_.router->Resolve(address);
  if (!route) return Final(child, Verdict::Defer("4.3.0", "address resolver failure: " + route.error()));
  if (route->transport == msg_.req.transport) return Recipient(child);
  return Indirect(child);
}

Verdict RecipientDelivery::Indirect(Attr& a) {
  if (!seen_.insert("indirect " + ToLower(a.recipient)).second) return Verdict::Sent("");
  pending_.push_back(Pending{a, a.recipient});
  return Verdict::Sent("");
}

Verdict RecipientDelivery::Mailbox(Attr& a, const std::string& user) {
  if (!seen_.insert("mailbox " + user).second) return Verdict::Sent("");
  auto pw = UserByName(user);
  if (!pw) return Final(a, Verdict::Bounce("5.1.1", "unknown user: \"" + user + "\""));
  if (!s_.mailbox_transport.empty()) return Pass(a);
  std::optional<Creds> rights = Rights(pw);
  if (!s_.mailbox_command.empty()) return Command(a, s_.mailbox_command, pw, pw->home);
  CopyOptions o;
  o.sender = msg_.req.sender;
  o.delivered_to = a.delivered;
  o.now = std::time(nullptr);
  if (!s_.home_mailbox.empty())
    return Final(a, ToPath(pw->home + "/" + s_.home_mailbox, rights, o, s_.lock_dotlock, "delivered to mailbox"));
  // The spool directory belongs to root (or group mail): the mailbox is
  // created with root's rights and given to the user.
  o.from_line = o.quote_from = o.blank_line = true;
  std::optional<std::pair<uid_t, gid_t>> owner;
  if (Privileged() && rights) owner = std::pair{rights->uid, rights->gid};
  mda::MboxOptions mo;
  mo.locks = {s_.lock_fcntl, s_.lock_flock, s_.lock_dotlock};
  mo.size_limit = s_.mailbox_size_limit;
  mo.owner = owner;
  mo.strict_owner = s_.strict_mailbox_ownership;
  Verdict v = AppendMbox(s_.mail_spool_directory + "/" + user, FormatCopy(o, msg_.lf), mo);
  if (v.kind == Verdict::Kind::kSent) v.text = "delivered to mailbox";
  return Final(a, v);
}

Verdict RecipientDelivery::File(Attr& a, const std::string& path) {
  std::optional<Creds> rights = Rights(a.rights);
  if (!seen_.insert("file " + std::to_string(rights ? rights->uid : geteuid()) + " " + path).second)
    return Verdict::Sent("");
  CopyOptions o;
  o.sender = msg_.req.sender;
  o.delivered_to = s_.delivered_file ? a.delivered : "";
  o.now = std::time(nullptr);
  return Final(a, ToPath(path, rights, o, false, "delivered to file: " + path));
}

// A Maildir (path ends in '/') or an mbox file written with `rights`; a
// sent mbox delivery says `mbox_text`.
Verdict RecipientDelivery::ToPath(const std::string& path, const std::optional<Creds>& rights, CopyOptions o,
                                  bool dotlock, const std::string& mbox_text) {
  EffectiveUser as(rights);
  if (!as.error().empty()) return Verdict::Defer("4.3.0", as.error());
  if (path.back() == '/') {
    Verdict v = WriteMaildir(path, FormatCopy(o, msg_.lf), s_.myhostname);
    if (v.kind == Verdict::Kind::kSent) v.text = "delivered to maildir";
    return v;
  }
  o.from_line = o.quote_from = o.blank_line = true;
  mda::MboxOptions mo;
  mo.locks = {s_.lock_fcntl, s_.lock_flock, dotlock};
  mo.size_limit = s_.mailbox_size_limit;
  Verdict v = AppendMbox(path, FormatCopy(o, msg_.lf), mo);
  if (v.kind == Verdict::Kind::kSent) v.text = mbox_text;
  return v;
}

Verdict RecipientDelivery::Command(Attr& a, const std::string& command, std::optional<Creds> as,
                                   const std::string& cwd) {
  std::optional<Creds> rights = Rights(as);
  if (!seen_.insert("command " + std::to_string(rights ? rights->uid : geteuid()) + " " + command).second)
    return Verdict::Sent("");
  mda::CommandSpec spec;
  spec.command = command;
  spec.as = rights;
  spec.time_limit_seconds = s_.command_time_limit;
  const Creds* who = rights ? &*rights : nullptr;
  std::optional<Creds> self;
  if (!who && (self = UserById(geteuid()))) who = &*self;
  spec.env = Environment(a, who);
  spec.cwd = !cwd.empty() ? cwd : who ? who->home : "/";
  CopyOptions o;
  o.from_line = true;
  o.sender = msg_.req.sender;
  o.delivered_to = s_.delivered_command ? a.delivered : "";
  o.now = std::time(nullptr);
  Verdict v = mda::RunCommand(spec, FormatCopy(o, msg_.lf));
  if (v.kind == Verdict::Kind::kSent) v.text = "delivered to command: " + command;
  return Final(a, v);
}

Verdict RecipientDelivery::Include(Attr& a, const std::string& path) {
  if (path.empty() || path[0] != '/')
    return Final(a, Verdict::Bounce("5.3.5", ":include: file name must be absolute: " + path));
  if (!seen_.insert("include " + path).second) return Verdict::Sent("");
  std::optional<Creds> rights = Rights(a.rights);
  std::string text;
  bool truncated = false;
  struct stat st {};
  {
    EffectiveUser as(rights);
    if (!as.error().empty()) return Final(a, Verdict::Defer("4.3.0", as.error()));
    Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    if (!fd.valid() || fstat(fd.get(), &st) != 0)
      return Final(a, Verdict::Bounce("5.3.0", "cannot open include file " + path + ": " + std::strerror(errno)));
    if (!S_ISREG(st.st_mode)) return Final(a, Verdict::Bounce("5.3.0", "include file " + path + ": not a regular file"));
    text = ReadSmall(fd.get(), &truncated);
  }
  Attr child = a;
  child.exp = Exp::kInclude;
  child.unmatched = s_.propagate_include ? a.unmatched : "";
  // The owner of a non-root include file must not gain the alias's rights.
  if (Privileged() && st.st_uid != 0) {
    child.rights = UserById(st.st_uid);
    if (!child.rights) return Final(a, Verdict::Defer("4.3.0", "cannot find owner of include file " + path));
  }
  return Tokens(child, text, "include");
}

std::vector<std::string> RecipientDelivery::Environment(const Attr& a, const Creds* pw) const {
  std::vector<std::string> env = mda::CommandEnvironment(s_.export_environment, pw);
  std::string local, domain, base, ext;
  SplitAddress(a.recipient, &local, &domain);
  char delim = 0;
  env.push_back("SENDER=" + FilterEnvValue(msg_.req.sender));
  env.push_back("RECIPIENT=" + FilterEnvValue(a.recipient));
  env.push_back("LOCAL=" + FilterEnvValue(local));
  env.push_back("DOMAIN=" + FilterEnvValue(domain));
  env.push_back("ORIGINAL_RECIPIENT=" + FilterEnvValue(orig_));
  if (rewrite::SplitExtension(local, s_.recipient_delimiter, &base, &ext, &delim))
    env.push_back("EXTENSION=" + FilterEnvValue(ext));
  return env;
}

}  // namespace postern::local
