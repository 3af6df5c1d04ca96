// pipe/deliver.cc — one request to one command run; see deliver.h. The
// checks and texts are Postfix's deliver_message and eval_command_status.
#include "pipe/deliver.h"

#include <unistd.h>

#include <chrono>
#include <ctime>

#include "pipe/expand.h"
#include "postern/log/log.h"
#include "postern/mda/command.h"
#include "postern/mda/copy.h"
#include "postern/mda/message.h"
#include "postern/queue/ids.h"
#include "postern/util/strings.h"

namespace postern::pipe {

namespace {

using mda::Verdict;

mda::ForbiddenIds MailOwner(const config::Config& cfg) {
  mda::ForbiddenIds ids;
  ids.name = cfg.Str("mail_owner");
  if (auto pw = mda::UserByName(ids.name)) {
    ids.uid = pw->uid;
    ids.gid = pw->gid;
  }
  return ids;
}

// A verdict that holds before the command would run, if any: Postfix's
// single-recipient flags, size= and the Delivered-To: loop check.
std::optional<Verdict> Precheck(const Settings& s, const mda::Message& m, uint64_t size) {
  const mda::PipeFlags& f = s.attr.flags;
  size_t n = m.req.recipients.size();
  for (auto [on, letter] : {std::pair{f.delivered_to, 'D'}, std::pair{f.orig_to, 'O'}}) {
    if (!on || n <= 1) continue;
    log::Warning("pipe flag `{}' requires {}_destination_recipient_limit = 1", letter, s.service);
    return Verdict::Defer("4.3.5", "mail system configuration error");
  }
  if (s.attr.size_limit != 0 && size > s.attr.size_limit) return Verdict::Bounce("5.2.3", "message too large");
  if (f.delivered_to) {
    const std::string& rcpt = m.req.recipients[0].address;
    for (const std::string& d : m.delivered_to)
      if (EqualsIgnoreCase(d, rcpt)) return Verdict::Bounce("5.4.6", "mail forwarding loop for " + rcpt);
  }
  return std::nullopt;
}

MacroValues Values(const Settings& s, const mda::Message& m, const queue::MessageRecord& rec,
                   const std::string& sender) {
  MacroValues v;
  v.sender = sender;
  v.nexthop = m.req.nexthop;
  v.size = std::to_string(rec.size);
  v.client_address = rec.client_addr;
  v.client_helo = rec.helo;
  v.client_hostname = rec.client_name;
  v.client_protocol = rec.protocol;
  v.sasl_username = rec.auth_user;
  // The queue keeps no client port, SASL method or RFC 4954 AUTH= sender:
  // those macros expand to nothing, as Postfix's do for mail that lacks them.
  v.recipient_delimiter = s.recipient_delimiter;
  for (const ipc::DeliveryRecipient& r : m.req.recipients) v.recipients.push_back({r.address, mda::OriginalRecipient(r)});
  return v;
}

Verdict Run(const Settings& s, const mda::Message& m, const queue::MessageRecord& rec) {
  const mda::PipeAttr& a = s.attr;
  std::string sender = m.req.sender.empty() ? a.null_sender : m.req.sender;
  auto argv = ExpandArgv(a.argv, Values(s, m, rec, sender), a.flags);
  if (!argv || argv->empty()) {
    log::Warning("{}: argv=: {}", s.service, argv ? "empty after expansion" : argv.error());
    return Verdict::Defer("4.3.5", "mail system configuration error");
  }
  mda::CommandSpec spec;
  spec.argv = std::move(*argv);
  spec.command = spec.argv[0];
  if (mda::Privileged()) spec.as = a.user;
  spec.only_gid = true;
  spec.env = mda::CommandEnvironment(s.export_environment, &a.user);
  spec.cwd = a.directory.empty() ? s.queue_directory : a.directory;
  spec.cwd_required = true;
  spec.chroot = a.chroot;
  spec.time_limit_seconds = s.time_limit;
  mda::CopyOptions o;
  o.from_line = a.flags.from_line;
  o.quote_from = a.flags.quote_from;
  o.blank_line = a.flags.blank_line;
  o.return_path = a.flags.return_path;
  o.dot_stuff = a.flags.dot_stuff;
  o.sender = mda::QuoteAddress(sender);
  if (a.flags.delivered_to) o.delivered_to = mda::QuoteAddress(m.req.recipients[0].address);
  if (a.flags.orig_to) o.orig_to = mda::QuoteAddress(mda::OriginalRecipient(m.req.recipients[0]));
  o.eol = a.eol;
  o.now = std::time(nullptr);
  Verdict v = mda::RunCommand(spec, mda::FormatCopy(o, m.lf));
  if (v.kind == Verdict::Kind::kSent) v.text = "delivered via " + s.service + " service";
  return v;
}

}  // namespace

Result<Settings> Settings::Load(const config::Config& cfg, const std::string& service,
                                const std::vector<std::string>& args) {
  Settings s;
  s.service = service;
  s.queue_directory = cfg.Str("queue_directory");
  s.recipient_delimiter = cfg.Str("recipient_delimiter");
  s.export_environment = cfg.List("export_environment");
  std::string limit = cfg.Raw(service + "_time_limit") ? service + "_time_limit" : "command_time_limit";
  auto t = cfg.GetTime(limit);
  if (!t) return Err(limit + ": " + t.error());
  s.time_limit = std::max<long long>(1, t->count());
  mda::ForbiddenIds owner = MailOwner(cfg);
  // Dropped to mail_owner (unpriv column not n), a command would run with
  // the queue owner's rights instead of user='s: refuse, as Postfix's pipe
  // cannot run without root either.
  if (!mda::Privileged() && owner.uid && geteuid() == *owner.uid)
    return Err("running as mail_owner " + owner.name + ", commands cannot run as user=: set the unpriv column to n");
  auto attr = mda::ParsePipeAttr(args, owner);
  if (!attr) return Err(attr.error());
  s.attr = std::move(*attr);
  return s;
}

std::vector<ipc::DeliveryResult> Deliver(Agent& agent, const ipc::DeliveryRequest& req) {
  const Settings& s = agent.settings;
  auto started = std::chrono::steady_clock::now();
  mda::Message m;
  m.req = req;
  m.msgid = queue::FormatMsgId(req.message_id);
  std::string why = mda::LoadMessage(*agent.queue, &m);
  auto rec = agent.queue->GetMessage(req.message_id);
  if (why.empty() && !rec.ok()) why = "cannot read message: " + rec.status().message;
  Verdict v;
  if (!why.empty()) v = Verdict::Defer("4.3.0", why);
  else if (auto pre = Precheck(s, m, rec->size)) v = *pre;
  else v = Run(s, m, *rec);
  std::vector<ipc::DeliveryResult> out;
  for (const ipc::DeliveryRecipient& r : req.recipients) {
    mda::LogDelivery(m, r.address, mda::OriginalRecipient(r), s.service, started, v);
    out.push_back(mda::ResultOf(r.envelope_id, v, s.service));
    // Without X the command is a relay, as far as a success notice goes.
    out.back().relayed_without_dsn = v.kind == Verdict::Kind::kSent && !s.attr.flags.final_delivery;
  }
  return out;
}

}  // namespace postern::pipe
