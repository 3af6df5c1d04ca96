// smtpd/session_milter.cc — smtpd_milters (non_smtpd_milters for local
// submission) at each stage of a session: the session holds still while its
// milters answer, on the shared loop; their replies, discards, holds and
// end-of-message edits apply as in Postfix (log lines milter-reject & co).
#include <fmt/format.h>

#include "postern/log/log.h"
#include "postern/smtp/reply.h"
#include "postern/util/strings.h"
#include "smtpd/session.h"

namespace postern::smtpd {

namespace {

struct ReplyParts {
  int code = 0;
  std::string enhanced, text;
};

// "550 5.7.1 text" (lines joined by CRLF) → code, enhanced status, text.
ReplyParts ParseMilterReply(const std::string& reply) {
  std::string first = reply.substr(0, reply.find("\r\n"));
  ReplyParts a;
  a.code = std::stoi(first.substr(0, 3));
  std::string_view rest = first.size() > 4 ? std::string_view(first).substr(4) : std::string_view();
  size_t sp = rest.find(' ');
  std::string_view word = rest.substr(0, sp);
  if (smtp::IsEnhancedStatus(word)) {
    a.enhanced = std::string(word);
    rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
  }
  a.text = std::string(rest);
  // Further lines of a multi-line reply: their text, in one line.
  for (size_t at = reply.find("\r\n"); at != std::string::npos; at = reply.find("\r\n", at + 2)) {
    size_t end = reply.find("\r\n", at + 2);
    std::string line = reply.substr(at + 2, end == std::string::npos ? std::string::npos : end - at - 2);
    if (line.size() > 4) a.text += " " + std::string(Trim(line.substr(4)));
  }
  return a;
}

}  // namespace

void Session::MilterConnect() {
  const auto& settings = svc_->settings().milters;
  const std::vector<milter::Spec>& specs = local_uid_ ? settings->non_smtpd : settings->smtpd;
  if (specs.empty()) return Greet();
  // Milters see the client's verified name (Postfix looks it up first).
  if (naming_) {
    milter_after_name_ = true;
    return;
  }
  milter_after_name_ = false;
  milters_ = std::make_unique<milter::Milters>(svc_->loop(), settings, specs,
                                               [this](const std::vector<std::string>& n) { return MilterMacros(n); });
  // Sendmail's form of an unknown client name; local submission is 127.0.0.1 (Postfix's).
  std::string host = client_name_ == "unknown" ? "[" + client_addr_ + "]" : client_name_;
  char family = client_addr_.find(':') != std::string::npos ? '6' : '4';
  std::weak_ptr<Session> weak = weak_from_this();
  milters_->Connect(host, family, client_port_, client_addr_, [weak](milter::Outcome o) {
    auto s = weak.lock();
    if (!s || s->finished_ || s->closing_) return;
    if (o.kind == milter::Outcome::Kind::kShutdown) {
      smtp::AppendReply(&s->out_, 421, "4.7.0", s->svc_->settings().myhostname + " Server closing connection");
      return s->CloseAfterFlush();
    }
    // A rejecting milter answers every later command with its reply (Client's state).
    s->MilterAnswer("CONNECT", "", o);
    s->Greet();
  });
}

void Session::AskMilters(std::string_view stage, std::string_view rcpt, MilterSend send, MilterThen then) {
  enum { kSending, kDone, kWaiting };
  auto state = std::make_shared<int>(kSending);
  std::weak_ptr<Session> weak = weak_from_this();
  send([weak, state, st = std::string(stage), to = std::string(rcpt), then = std::move(then)](milter::Outcome o) {
    auto s = weak.lock();
    if (!s || s->finished_ || s->closing_) return;
    bool waited = *state == kWaiting;
    *state = kDone;
    if (waited) s->paused_ = false;
    if (o.kind == milter::Outcome::Kind::kShutdown) {
      s->MilterAnswer(st, to, o);
      s->Reply(421, "4.7.0", s->svc_->settings().myhostname + " Server closing connection");
      return s->CloseAfterFlush();
    }
    then(s->MilterAnswer(st, to, o));
    if (waited) s->AfterWait();
  });
  if (*state == kSending) {  // the answer comes later: hold the session still
    *state = kWaiting;
    paused_ = true;
  }
}

std::optional<Session::Answer> Session::MilterAnswer(std::string_view stage, std::string_view rcpt,
                                                     const milter::Outcome& o) {
  using K = milter::Outcome::Kind;
  if (!o.quarantine.empty() && txn_ && !txn_->hold) {
    txn_->hold = true;
    LogAction("milter-hold", stage, "milter triggers HOLD action", rcpt);
  }
  if (o.kind == K::kDiscard && txn_ && !txn_->discard) {
    txn_->discard = true;
    LogAction("milter-discard", stage, "milter triggers DISCARD action", rcpt);
  }
  if (o.kind == K::kShutdown) LogAction("milter-reject", stage, "421 4.7.0 Server closing connection", rcpt);
  if (o.kind != K::kReply) return std::nullopt;
  ReplyParts p = ParseMilterReply(o.reply);
  LogAction("milter-reject", stage, o.reply.substr(0, o.reply.find("\r\n")), rcpt);
  return Answer{p.code, p.enhanced, p.text};
}

std::optional<std::string> Session::MilterMacro(std::string_view name) const {
  const Settings& st = svc_->settings();
  bool tls = tls_active();
  auto addr_part = [&](const std::string& a, bool host) -> std::optional<std::string> {
    auto parsed = smtp::ParsePath("<" + a + ">", smtp::PathOptions{});
    if (!parsed || parsed->null) return std::nullopt;
    auto where = svc_->policy().Classify(*parsed);
    bool local = where.ok() && *where == route::Destination::kLocal;
    if (host) return local ? st.myhostname : parsed->domain;
    return std::string(local ? "local" : "smtp");
  };
  std::string sender = txn_ && !txn_->sender.null ? txn_->sender.Canonical() : "";
  if (name == "i") {
    if (txn_ && txn_->content && txn_->content->message) return queue::FormatMsgId(txn_->content->message->id());
    return std::nullopt;
  }
  if (name == "j") return st.myhostname;
  if (name == "_") return client_name_ + " [" + client_addr_ + "]";
  if (name == "v") return st.milters->v;
  if (name == "{daemon_name}") return st.milters->daemon_name;
  if (name == "{daemon_addr}") return local_addr_.empty() ? std::optional<std::string>() : local_addr_;
  if (name == "{daemon_port}") return local_port_ ? std::optional<std::string>(std::to_string(local_port_)) : std::nullopt;
  if (name == "{client_addr}") return client_addr_;
  if (name == "{client_name}" || name == "{client_ptr}") return client_name_;
  if (name == "{client_port}") return std::to_string(client_port_);
  if (name == "{client_connections}") return std::to_string(svc_->ClientCount(client_addr_));
  if (name == "{tls_version}") return tls ? std::optional<std::string>(stream_->info().protocol) : std::nullopt;
  if (name == "{cipher}") return tls ? std::optional<std::string>(stream_->info().cipher) : std::nullopt;
  if (name == "{cipher_bits}") return tls ? std::optional<std::string>(std::to_string(stream_->info().bits)) : std::nullopt;
  if (name == "{auth_type}") return auth_.authenticated() ? std::optional<std::string>(auth_.mechanism) : std::nullopt;
  if (name == "{auth_authen}") return auth_.authenticated() ? std::optional<std::string>(auth_.username) : std::nullopt;
  if (name == "{mail_addr}") return txn_ ? std::optional<std::string>(sender) : std::nullopt;
  if (name == "{mail_host}" || name == "{mail_mailer}") return addr_part(sender, name == "{mail_host}");
  if (name == "{rcpt_addr}") return milter_rcpt_.empty() ? std::optional<std::string>() : milter_rcpt_;
  if (name == "{rcpt_host}" || name == "{rcpt_mailer}") return addr_part(milter_rcpt_, name == "{rcpt_host}");
  return std::nullopt;  // {cert_subject}, {cert_issuer}, {auth_author}: postern has no such fact
}

milter::MacroValues Session::MilterMacros(const std::vector<std::string>& names) const {
  milter::MacroValues out;
  for (const std::string& n : names)
    if (auto v = MilterMacro(n)) out.emplace_back(n, std::move(*v));
  return out;
}

// End of message: the content goes through the milters before it is written.
void Session::MilterContent() {
  Content& c = *txn_->content;
  auto m = std::make_shared<milter::Message>(milter::Message::Parse(c.message->TakeContent()));
  auto env = std::make_shared<milter::EnvelopeEdits>();
  phase_ = Phase::kMilter;
  timer_.Stop();  // the milters' own timeouts bound this wait
  milter_rcpt_.clear();
  std::weak_ptr<Session> weak = weak_from_this();
  milters_->Content(m.get(), env.get(), [weak, m, env](milter::Outcome o) {
    auto s = weak.lock();
    if (!s || s->finished_ || !s->txn_ || !s->txn_->content) return;
    s->AfterMilterContent(std::move(o), *m, *env);
  });
}

void Session::AfterMilterContent(milter::Outcome o, const milter::Message& m, const milter::EnvelopeEdits& env) {
  auto self = shared_from_this();
  phase_ = Phase::kCommand;
  if (o.kind == milter::Outcome::Kind::kShutdown) {
    MilterAnswer("END-OF-MESSAGE", "", o);
    ResetTxn();
    Reply(421, "4.7.0", svc_->settings().myhostname + " Server closing connection");
    return CloseAfterFlush();
  }
  cleanup::Message& msg = *txn_->content->message;
  std::string id = queue::FormatMsgId(msg.id());
  std::optional<Answer> a = MilterAnswer("END-OF-MESSAGE", "", o);
  // smtpd_save_rejected: a milter's permanent reject or discard, as the checks'.
  if (a && a->code >= 500) SaveRejected(std::to_string(a->code) + " " + a->enhanced + " " + a->text);
  if (!a && txn_->discard) {
    SaveRejected("DISCARD");
    ResetTxn();
    ++ok_[size_t(last_verb_ == smtp::Verb::kBdat ? smtp::Verb::kBdat : smtp::Verb::kData)];
    a = Answer{250, "2.0.0", "Ok: queued as " + id};
  } else if (!a && MilterRecipients(env).empty()) {
    a = Answer{554, "5.5.1", "Error: no valid recipients"};
    LogReject("END-OF-MESSAGE", a->code, a->enhanced, a->text, "");
  } else if (!a) {
    if (auto st = msg.WriteContent(m.Serialize()); !st.ok()) {
      a = QueueErrorAnswer(st.code);
      log::Warning("{}: queue: {}", id, st.message);
    }
  }
  if (!a) {
    Commit(env);  // session_content.cc: envelope edits and access actions, then cleanup
    if (phase_ != Phase::kCommitting) AfterWait();  // refused there (queue error)
    return;
  }
  ResetTxn();
  Reply(*a);
  ChatReset(svc_->settings().history_flush_threshold);
  AfterWait();
}

std::vector<queue::Recipient> Session::MilterRecipients(const milter::EnvelopeEdits& env) const {
  std::vector<queue::Recipient> rcpts;
  for (const queue::Recipient& r : txn_->rcpts) {
    bool gone = false;
    for (const std::string& d : env.del_rcpts) gone |= EqualsIgnoreCase(d, r.address);
    if (!gone) rcpts.push_back(r);
  }
  for (const std::string& a : env.add_rcpts) rcpts.push_back({a, "", 0});
  return rcpts;
}

}  // namespace postern::smtpd
