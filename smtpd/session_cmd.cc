// smtpd/session_cmd.cc — the envelope commands: HELO/EHLO, MAIL, RCPT (where
// the restrictions run), VRFY and RSET, with Postfix's replies.
#include "postern/log/limited.h"
#include "postern/log/log.h"
#include "postern/queue/space.h"
#include "postern/smtp/reply.h"
#include "postern/util/strings.h"
#include "smtpd/session.h"

namespace postern::smtpd {

namespace {

// RFC 5321 §4.5.3.1.2: a domain name is at most 255 octets; an address literal is shorter.
constexpr size_t kMaxHeloArg = 255;

bool HasNonAscii(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return true;
  return false;
}

}  // namespace

Facts Session::MakeFacts(const smtp::Address* rcpt) const {
  Facts f;
  f.client_name = client_name_;
  f.reverse_client_name = reverse_name_;
  f.client_name_status = name_status_;
  f.reverse_name_status = reverse_status_;
  f.client_addr = client_addr_;
  f.helo = helo_;
  f.sender = txn_ ? &txn_->sender : nullptr;
  f.recipient = rcpt;
  f.sasl_authenticated = auth_.authenticated();
  f.sasl_username = auth_.username;
  return f;
}

void Session::Helo(std::string_view arg, bool ehlo) {
  ChatReset(svc_->settings().history_flush_threshold);
  if (arg.empty()) {
    Reply(501, "5.5.4", ehlo ? "Syntax: EHLO hostname" : "Syntax: HELO hostname");
    return;
  }
  if (arg.size() > kMaxHeloArg) {
    Reply(501, "5.5.2", ehlo ? "Error: EHLO argument longer than 255 octets" : "Error: HELO argument longer than 255 octets");
    return;
  }
  if (ehlo && AuthWaitForMechanisms(arg)) return;
  ResetTxn();
  helo_ = std::string(arg);
  esmtp_ = ehlo;
  helo_after_tls_ = false;
  if (!milters_) return HeloReply(ehlo);
  AskMilters("HELO", "", [this](milter::Milters::Done d) { milters_->Helo(helo_, std::move(d)); },
             [this, ehlo](std::optional<Answer> a) {
               if (a) return Reply(*a);
               HeloReply(ehlo);
             });
}

void Session::HeloReply(bool ehlo) {
  const Settings& st = svc_->settings();
  if (!ehlo) {
    Reply(250, "", st.myhostname);
    return;
  }
  smtp::Reply r;
  r.code = 250;
  r.lines = {st.myhostname, "PIPELINING"};
  r.lines.push_back(st.message_size_limit ? "SIZE " + std::to_string(st.message_size_limit) : "SIZE");
  if (!st.disable_vrfy) r.lines.push_back("VRFY");
  if (st.tls.level != TlsSettings::Level::kNone && !st.tls.wrapper && !tls_active()) r.lines.push_back("STARTTLS");
  if (AuthOffered()) r.lines.push_back(AuthEhloLine());
  for (const char* k : {"ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"}) r.lines.push_back(k);
  last_code_ = 250;
  for (size_t i = 0; i < r.lines.size(); ++i) entry_.Reply(r.code, r.enhanced, r.lines[i], i + 1 < r.lines.size());
  smtp::AppendReply(&out_, r);
}

bool Session::Trusted() const {
  if (local_uid_ || auth_.authenticated()) return true;
  // A mynetworks table that cannot be read now must not turn mail away for good.
  return svc_->policy().InMynetworks(client_addr_) != std::optional<bool>(false);
}

std::optional<smtp::Address> Session::ParseAddress(std::string_view path, bool sender, bool utf8) {
  smtp::PathOptions o;
  o.smtputf8 = utf8;
  o.allow_null = sender;
  o.allow_bare_local = true;
  auto a = smtp::ParsePath(path, o);
  if (a && !a->null && a->domain.empty()) {
    // Postfix's append_at_myorigin, for those who may submit unqualified
    // addresses; RFC 5321 §4.5.1 wants <Postmaster> from anyone.
    if (Trusted() || (!sender && EqualsIgnoreCase(a->local, "postmaster"))) {
      a->domain = svc_->settings().myorigin;
    } else {
      if (sender) Reply(501, "5.1.7", "Bad sender address syntax: domain required");
      else Reply(501, "5.1.3", "Bad recipient address syntax: domain required");
      return std::nullopt;
    }
  }
  if (a) return std::move(*a);
  if (!utf8 && HasNonAscii(path)) {
    Reply(553, "5.6.7", "Must declare SMTPUTF8 to send unicode address");
  } else if (sender) {
    Reply(501, "5.1.7", "Bad sender address syntax");
  } else {
    Reply(501, "5.1.3", "Bad recipient address syntax");
  }
  return std::nullopt;
}

// Postfix's smtpd_check_queue: one warning per interval while space is short,
// however many clients are refused meanwhile.
bool Session::QueueHasRoom(uint64_t size) {
  static log::LimitedWarning warning(std::chrono::seconds(10));
  const Settings& st = svc_->settings();
  std::string why =
      queue::SpaceShortage(svc_->queue().AvailableBytes(), st.queue_minfree, st.message_size_limit, size);
  if (why.empty()) return true;
  warning.Warn("{}", why);
  return false;
}

void Session::Mail(std::string_view arg) {
  const Settings& st = svc_->settings();
  if ((st.helo_required || helo_after_tls_) && helo_.empty())
    return Reply(503, "5.5.1", "Error: send HELO/EHLO first");
  if (st.tls.level == TlsSettings::Level::kEncrypt && !tls_active())
    return Reply(530, "5.7.0", "Must issue a STARTTLS command first");
  if (txn_) return Reply(503, "5.5.1", "Error: nested MAIL command");
  auto pa = smtp::ParsePathArg(arg, "FROM", !st.strict_rfc821);
  if (!pa) return Reply(501, "5.5.4", "Syntax: MAIL FROM:<address>");
  smtp::MailParams mp;
  auto ps = smtp::ParseMailParams(pa->params, &mp);
  if (!ps.ok()) return Reply(ps.error == smtp::ParamError::kSyntax ? 501 : 555, "5.5.4", ps.text);
  if (mp.body == smtp::Body::kBinaryMime) return Reply(555, "5.5.4", "Unsupported option: BODY=BINARYMIME");
  if (mp.size && st.message_size_limit && *mp.size > st.message_size_limit)
    return ReplyAs(notify::kClassPolicy, 552, "5.3.4", "Message size exceeds fixed limit");
  if (!QueueHasRoom(mp.size ? *mp.size : 0)) {
    LogReject("MAIL", 452, "4.3.1", "Insufficient system storage", "");
    return Reply(452, "4.3.1", "Insufficient system storage");
  }
  auto sender = ParseAddress(pa->path, true, mp.smtputf8);
  if (!sender) return;
  if (RateLimited("mail", [this, a = std::string(arg)] { Mail(a); })) return;  // smtpd_client_message_rate_limit
  txn_ = std::make_unique<Txn>();
  txn_->sender = std::move(*sender);
  txn_->params = std::move(mp);
  txn_->instance = NewPolicyInstance();
  if (!milters_) return Reply(250, "2.1.0", "Ok");
  // Sendmail's form: the address in <>, then the ESMTP parameters as given.
  std::vector<std::string> args{"<" + (txn_->sender.null ? "" : txn_->sender.Canonical()) + ">"};
  for (const std::string& p : SplitList(pa->params, " ")) args.push_back(p);
  AskMilters("MAIL", "", [this, args](milter::Milters::Done d) { milters_->Mail(args, std::move(d)); },
             [this](std::optional<Answer> a) {
               if (!a) return Reply(250, "2.1.0", "Ok");
               ResetTxn();
               Reply(*a);
             });
}

void Session::Rcpt(std::string_view arg) {
  const Settings& st = svc_->settings();
  if (!txn_) return Reply(503, "5.5.1", "Error: need MAIL command");
  if (txn_->content) return Reply(503, "5.5.1", "Error: RCPT after BDAT");
  if (st.recipient_limit && txn_->rcpts.size() >= st.recipient_limit) {
    Reply(452, "4.5.3", "Error: too many recipients");
    // Postfix's smtpd_recipient_overshoot_limit: a client that sends a few
    // too many loses those recipients, not the session.
    if (txn_->overshoot++ < st.recipient_overshoot_limit) --errors_;
    return;
  }
  auto pa = smtp::ParsePathArg(arg, "TO", !st.strict_rfc821);
  if (!pa) return Reply(501, "5.5.4", "Syntax: RCPT TO:<address>");
  smtp::RcptParams rp;
  auto ps = smtp::ParseRcptParams(pa->params, &rp);
  if (!ps.ok()) return Reply(ps.error == smtp::ParamError::kSyntax ? 501 : 555, "5.5.4", ps.text);
  auto rcpt = ParseAddress(pa->path, false, txn_->params.smtputf8);
  if (!rcpt) return;
  if (RateLimited("rcpt", [this, a = std::string(arg)] { Rcpt(a); })) return;  // smtpd_client_recipient_rate_limit
  // session_policy.cc: the restrictions, which may have to wait for a policy service.
  auto rc = std::make_unique<RcptCheck>();
  rc->rcpt = std::move(*rcpt);
  rc->params = std::move(rp);
  rc->raw_params = std::string(pa->params);
  CheckRcpt(std::move(rc));
}

void Session::Vrfy(std::string_view arg) {
  if (svc_->settings().disable_vrfy) return Reply(502, "5.5.1", "VRFY command is disabled");
  if (arg.empty()) return Reply(501, "5.5.4", "Syntax: VRFY address");
  std::string path = arg.front() == '<' ? std::string(arg) : "<" + std::string(arg) + ">";
  auto a = ParseAddress(path, false, true);
  if (!a) return;
  Verdict v = svc_->policy().CheckLocalRecipient(*a);
  if (v.rejected()) {
    LogReject("VRFY", v.code, v.enhanced, v.text, a->Canonical());
    return Reply(v.code, v.enhanced, v.text);
  }
  Reply(252, "2.0.0", "<" + a->Canonical() + ">");
}

void Session::Unknown(std::string_view line) {
  if (!milters_) return Reply(502, "5.5.2", "Error: command not recognized");
  std::string text(line);
  AskMilters("UNKNOWN", "", [this, text](milter::Milters::Done d) { milters_->Unknown(text, std::move(d)); },
             [this](std::optional<Answer> a) {
               if (a) return Reply(*a);
               Reply(502, "5.5.2", "Error: command not recognized");
             });
}

void Session::Rset(std::string_view arg) {
  if (!arg.empty()) return Reply(501, "5.5.4", "Syntax: RSET");
  ChatReset(svc_->settings().history_flush_threshold);
  ResetTxn();
  Reply(250, "2.0.0", "Ok");
}

}  // namespace postern::smtpd
