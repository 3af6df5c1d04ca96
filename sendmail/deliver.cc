// sendmail/deliver.cc — mail mode: the message from stdin goes to smtpd's
// local submission socket ($queue_directory/public/submit); when the mail
// system is down it goes into the maildrop directory instead, for pickup(8)
// to move into the queue once the system runs (root and the queue's owner
// only; see sendmail(1) SECURITY).
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "postern/ipc/trigger.h"
#include "postern/log/log.h"
#include "postern/maildrop/maildrop.h"
#include "postern/smtp/data.h"
#include "sendmail/message.h"
#include "sendmail/sendmail.h"
#include "sendmail/submit.h"

namespace postern::sendmail {
namespace {

constexpr size_t kSendSize = 256 * 1024;

// "<addr>" → "addr"; "<>" → "".
std::string StripAngle(std::string_view a) {
  if (a.size() >= 2 && a.front() == '<' && a.back() == '>') a = a.substr(1, a.size() - 2);
  return std::string(a);
}

// "Full Name <addr>", quoting the name when it holds specials.
std::string FromHeader(std::string_view name, const std::string& addr) {
  if (name.empty()) return addr;
  if (name.find_first_of("()<>[]:;@\\,.\"") == std::string_view::npos) return std::string(name) + " <" + addr + ">";
  std::string q = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') q += '\\';
    if (c != '\r' && c != '\n') q += c;
  }
  return q + "\" <" + addr + ">";
}

// What one submission needs besides the content.
struct Job {
  Identity me;
  std::string sender;  // qualified; empty: the null sender
  std::vector<std::string> rcpts;
};

// The exit status for a refusal: 4xx try later, 5xx never; a refused
// recipient is EX_NOUSER as in sendmail.
int StatusFor(const smtp::Reply& r, bool rcpt) {
  if (r.code >= 400 && r.code < 500) return kExTempFail;
  return rcpt ? kExNoUser : kExUnavailable;
}

std::string Who(const Job& j) { return j.me.user + "(" + std::to_string(j.me.uid) + ")"; }

// One command (or the greeting, for an empty `cmd`); dies unless the reply is `want`.
void Expect(Submission& s, const Job& j, std::string_view cmd, int want, bool rcpt = false) {
  auto r = cmd.empty() ? s.Read() : s.Command(cmd);
  if (!r) Die(kExTempFail, Who(j) + ": " + r.error());
  if (r->code == want) return;
  std::string what = cmd.empty() ? std::string("connect") : std::string(cmd.substr(0, cmd.find(' ')));
  if (rcpt) what = std::string(cmd);
  Die(StatusFor(*r, rcpt), Who(j) + ": " + what + ": " + ReplyText(*r));
}

int ViaSocket(Submission& s, const config::Config& cfg, const Args& a, const Job& j, LineReader& in,
              const Header& h) {
  std::string mail = "MAIL FROM:<" + j.sender + ">";
  if (a.body == smtp::Body::k8BitMime) mail += " BODY=8BITMIME";
  if (a.ret != smtp::Ret::kUnspecified) mail += a.ret == smtp::Ret::kFull ? " RET=FULL" : " RET=HDRS";
  if (a.envid) mail += " ENVID=" + smtp::XtextEncode(*a.envid);
  std::string notify = a.notify ? " NOTIFY=" + smtp::FormatNotify(a.notify) : "";
  Expect(s, j, "", 220);
  Expect(s, j, "EHLO " + cfg.Str("myhostname"), 250);
  Expect(s, j, mail, 250);
  for (const std::string& r : j.rcpts) Expect(s, j, "RCPT TO:<" + r + ">" + notify, 250, true);
  Expect(s, j, "DATA", 354);
  smtp::DotStuffer ds;
  std::string out;
  auto copied = CopyContent(in, h, a.dot_ends, [&](std::string_view piece) -> Result<void> {
    ds.Feed(piece, &out);
    if (out.size() < kSendSize) return {};
    auto w = s.Send(out);
    out.clear();
    return w;
  });
  if (!copied) Die(kExTempFail, Who(j) + ": " + copied.error());
  ds.Finish(&out);
  if (auto w = s.Send(out); !w) Die(kExTempFail, Who(j) + ": " + w.error());
  Expect(s, j, "", 250);
  (void)s.Command("QUIT");
  return kExOk;
}

// Where maildrop files go and whom they belong to: the owner of
// $queue_directory (mail_owner when master runs as root), which is who
// pickup runs as. Creates the directories a never-started instance lacks.
Result<maildrop::Owner> PrepareDrop(const config::Config& cfg, const std::string& qdir) {
  maildrop::Owner owner{geteuid(), getegid()};
  struct stat st;
  if (stat(qdir.c_str(), &st) == 0) {
    owner = {st.st_uid, st.st_gid};
  } else if (geteuid() == 0) {
    std::string name = cfg.Str("mail_owner");
    const passwd* pw = getpwnam(name.c_str());
    if (!pw) return Err("mail_owner " + name + ": no such user");
    owner = {pw->pw_uid, pw->pw_gid};
  }
  if (geteuid() != 0 && geteuid() != owner.uid)
    return Err("only root and the mail system's owner may leave mail in " + qdir + "/maildrop");
  if (stat(qdir.c_str(), &st) != 0) {
    std::error_code ec;
    std::filesystem::create_directories(qdir, ec);
    if (ec) return Err("create directory " + qdir + ": " + ec.message());
    if (geteuid() == 0 && chown(qdir.c_str(), owner.uid, owner.gid) != 0)
      return Err("chown " + qdir + ": " + strerror(errno));
  }
  if (auto r = maildrop::EnsureDir(qdir + "/maildrop", owner); !r) return Err(r.error());
  return owner;
}

int ViaMaildrop(const config::Config& cfg, const Args& a, const Job& j, LineReader& in, const Header& h,
                const std::string& why_down) {
  std::string qdir = cfg.Str("queue_directory");
  auto owner = PrepareDrop(cfg, qdir);
  if (!owner) Die(kExTempFail, Who(j) + ": the mail system is down (" + why_down + ") and " + owner.error());
  maildrop::Envelope env;
  env.uid = j.me.uid;
  env.time = time(nullptr);
  env.sender = j.sender;
  env.recipients = j.rcpts;
  env.notify = uint8_t(a.notify);
  env.ret = a.ret == smtp::Ret::kFull   ? queue::DsnRet::kFull
            : a.ret == smtp::Ret::kHdrs ? queue::DsnRet::kHdrs
                                        : queue::DsnRet::kUnset;
  env.envid = a.envid.value_or("");
  if (a.body == smtp::Body::k8BitMime) env.flags |= queue::kFlag8BitMime;
  auto w = maildrop::Writer::Create(qdir + "/maildrop", env, *owner);
  if (!w) Die(kExTempFail, Who(j) + ": " + w.error());
  uint64_t limit = cfg.Size("message_size_limit");
  auto copied = CopyContent(in, h, a.dot_ends, [&](std::string_view piece) -> Result<void> {
    if (limit && w->content_size() + piece.size() > limit) return Err("message file too big");
    return w->Append(piece);
  });
  if (!copied) Die(copied.error() == "message file too big" ? kExDataErr : kExTempFail, Who(j) + ": " + copied.error());
  auto path = w->Commit();
  if (!path) Die(kExTempFail, Who(j) + ": " + path.error());
  if (a.verbose) log::Info("mail system is down ({}): message left in {}", why_down, *path);
  // pickup is not there while the system is down, but it may be starting.
  (void)ipc::Trigger(qdir + "/public/pickup", std::string_view(&ipc::kWakeup, 1));
  return kExOk;
}

}  // namespace

int SendMail(const config::Config& cfg, const Args& a) {
  Job j;
  j.me = WhoAmI();
  std::string origin = cfg.Str("myorigin");
  j.sender = Qualify(StripAngle(a.sender ? *a.sender : j.me.user), origin);
  for (const std::string& r : a.rcpts)
    if (std::string q = Qualify(StripAngle(r), origin); !q.empty()) j.rcpts.push_back(std::move(q));
  if (j.rcpts.empty() && !a.extract)
    Die(kExUsage, Who(j) + ": Recipient addresses must be specified on the command line or via the -t option");

  MessageOptions mo;
  mo.extract_recipients = a.extract;
  mo.dot_ends_input = a.dot_ends;
  mo.origin = origin;
  std::string from = j.sender.empty() ? Qualify(j.me.user, origin) : j.sender;
  mo.from_header = FromHeader(a.full_name ? *a.full_name : j.me.gecos, from);
  LineReader in(0);
  auto h = ReadHeader(in, mo, &j.rcpts);
  if (!h) Die(kExDataErr, Who(j) + ": " + h.error());
  if (j.rcpts.empty()) Die(kExUsage, Who(j) + ": No recipient addresses found in message header");

  auto s = Submission::Connect(cfg.Str("queue_directory") + "/public/submit", a.verbose);
  if (!s) return ViaMaildrop(cfg, a, j, in, *h, s.error());
  return ViaSocket(*s, cfg, a, j, in, *h);
}

int SmtpSession(const config::Config& cfg, const Args& a) {
  auto s = Submission::Connect(cfg.Str("queue_directory") + "/public/submit", a.verbose);
  if (!s) {
    // An SMTP client on the other end understands this better than stderr.
    std::string reply = "421 4.3.0 " + cfg.Str("myhostname") + " Error: mail system is down\r\n";
    (void)!write(1, reply.data(), reply.size());
    log::Error("mail system is down: {}", s.error());
    return kExTempFail;
  }
  return RelaySession(*s);
}

}  // namespace postern::sendmail
