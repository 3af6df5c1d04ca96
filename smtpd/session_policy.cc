// smtpd/session_policy.cc — RCPT's restrictions as a resumable check: a
// check_policy_service step sends the session's attributes to the service on
// the shared loop and the session holds still (paused_) until the action comes.
#include <sys/time.h>
#include <unistd.h>

#include <fmt/format.h>

#include "postern/log/log.h"
#include "postern/stats/recorder.h"
#include "postern/util/strings.h"
#include "smtpd/session.h"

namespace postern::smtpd {

void Session::CheckRcpt(std::unique_ptr<RcptCheck> rc) {
  rcpt_check_ = std::move(rc);
  RunRcptCheck(svc_->policy().CheckRecipient(rcpt_check_->check, CheckFacts()));
}

Facts Session::CheckFacts() const {
  const RcptCheck& rc = *rcpt_check_;
  // Postfix's smtpd_check_data: no recipient when there are several.
  bool data = rc.check.at != Policy::Stage::kRecipient;
  Facts f = MakeFacts(data && txn_->rcpts.size() != 1 ? nullptr : &rc.rcpt);
  f.recipient_count = txn_->rcpts.size();
  f.ill_pipelining = ill_pipelining_;
  f.recipients = rc.recipients;
  f.content_md5 = rc.content_md5;
  return f;
}

// Either looks up what a step needs, asks the pending step's service, or
// ends the RCPT with the verdict.
void Session::RunRcptCheck(Verdict v) {
  Policy::Check& c = rcpt_check_->check;
  while (c.dns && !svc_->resolver()) {  // no resolver: every lookup fails for now
    svc_->policy().AddDnsAnswer(c, DnsFact{DnsFact::Result::kTempFail, {}, "no resolver"}, 0);
    v = svc_->policy().CheckRecipient(c, CheckFacts());
  }
  if (c.dns) return LookupForCheck();
  if (c.cache) return AskCache();
  if (c.verify) {
    paused_ = true;
    return AskVerify();
  }
  const Policy::Step* step = c.pending;
  if (!step) {
    paused_ = false;
    return rcpt_check_->then ? FinishStage(std::move(v)) : FinishRcpt(std::move(v));
  }
  paused_ = true;
  std::weak_ptr<Session> weak = weak_from_this();
  policy::Client& client = svc_->policy_clients().Get(*step->service, step->service_key);
  client.Query(PolicyAttributes(*step->service), [weak](std::string action) {
    auto s = weak.lock();
    if (!s || s->finished_ || s->closing_ || !s->rcpt_check_) return;
    s->OnPolicyAction(std::move(action));
  });
}

void Session::OnPolicyAction(std::string action) {
  auto self = shared_from_this();
  Verdict v = svc_->policy().Resume(rcpt_check_->check, action, CheckFacts());
  RunRcptCheck(std::move(v));
  AfterWait();  // unless another service is to be asked
}

// reject_unverified_*: one query to verify(8), which may wait for its probe
// up to the poll time ((address_verify_poll_count - 1) × _poll_delay).
void Session::AskVerify() {
  const Policy& pol = svc_->policy();
  const Policy::VerifyWait& w = *rcpt_check_->check.verify;
  ipc::VerifyQuery q{w.kind, w.address, pol.verify_wait_ms(), false};
  ipc::Call::Failure failure;
  std::string why;
  rcpt_check_->verify_call = ipc::Call::Connect(svc_->loop(), pol.verify_socket(), ipc::kVerifyFrameMax, &failure, &why);
  if (!rcpt_check_->verify_call)  // answered here and now: the caller goes on with the session
    return RunRcptCheck(svc_->policy().ResumeVerify(rcpt_check_->check, Err(why), CheckFacts()));
  std::weak_ptr<Session> weak = weak_from_this();
  // The service answers within the wait; the margin covers a loaded machine.
  ipc::SendVerify(*rcpt_check_->verify_call, q, pol.verify_wait_ms() + 30000, [weak](Result<ipc::VerifyAnswer> a) {
    auto s = weak.lock();
    if (!s || s->finished_ || s->closing_ || !s->rcpt_check_) return;
    s->OnVerifyAnswer(std::move(a));
  });
}

void Session::OnVerifyAnswer(Result<ipc::VerifyAnswer> answer) {
  auto self = shared_from_this();
  // This runs inside the call's on_end, where Call allows its owner to destroy it.
  std::unique_ptr<ipc::Call> call = std::move(rcpt_check_->verify_call);
  Verdict v = svc_->policy().ResumeVerify(rcpt_check_->check, answer, CheckFacts());
  RunRcptCheck(std::move(v));
  AfterWait();  // unless another service is to be asked
}

// check_greylist, check_message_limits: the policy cache, which may answer
// at once (LMDB) or later (Redis); either way the check goes on from the step.
void Session::AskCache() {
  paused_ = true;
  Policy& pol = svc_->policy();
  Policy::CacheContext ctx{svc_->cache(), !txn_->limits_counted};
  if (*rcpt_check_->check.cache == "check_message_limits") txn_->limits_counted = true;
  auto inside = std::make_shared<bool>(true);
  std::weak_ptr<Session> weak = weak_from_this();
  pol.RunCacheStep(rcpt_check_->check, CheckFacts(), ctx, [weak, inside](Verdict v) {
    auto s = weak.lock();
    if (!s || s->finished_ || s->closing_ || !s->rcpt_check_) return;
    if (*inside) {
      s->rcpt_check_->cache_inline = std::move(v);
      return;
    }
    s->OnCacheAnswer(std::move(v));
  });
  *inside = false;
  if (!rcpt_check_ || !rcpt_check_->cache_inline) return;
  paused_ = false;  // answered here and now: the caller goes on with the session
  pol.AddCacheAnswer(rcpt_check_->check, *std::exchange(rcpt_check_->cache_inline, std::nullopt));
  RunRcptCheck(pol.CheckRecipient(rcpt_check_->check, CheckFacts()));
}

void Session::OnCacheAnswer(Verdict v) {
  auto self = shared_from_this();
  Policy& pol = svc_->policy();
  pol.AddCacheAnswer(rcpt_check_->check, std::move(v));
  RunRcptCheck(pol.CheckRecipient(rcpt_check_->check, CheckFacts()));
  AfterWait();  // unless another lookup or service is to be asked
}

void Session::FinishRcpt(Verdict v) {
  std::unique_ptr<RcptCheck> rc = std::move(rcpt_check_);
  Policy& pol = svc_->policy();
  if (!v.rejected()) v = pol.CheckLocalRecipient(rc->rcpt);
  std::string to = rc->rcpt.Canonical();
  if (v.rejected()) {
    for (auto& [action, text] : rc->check.effects.notes)
      if (action == "reject_warning") LogAction(action, "RCPT", text, to);
    LogReject("RCPT", v.code, v.enhanced, v.text, to);
    stats::Count("smtp.check." + (v.check.empty() ? std::string("recipient") : CheckClass(v.check)) + ".reject");
    // A restriction's reject is policy whatever its code (reject_unauth_pipelining
    // says 5.5.0); a table or configuration it could not use is not.
    bool ours = v.enhanced.rfind("4.3.", 0) == 0;
    return ReplyAs(ours ? ErrorClass(v.code, v.enhanced) : notify::kClassPolicy, v.code, v.enhanced, v.text);
  }
  if (!milters_) return AcceptRcpt(*rc);
  std::vector<std::string> args{"<" + to + ">"};
  for (const std::string& p : SplitList(rc->raw_params, " ")) args.push_back(p);
  milter_rcpt_ = to;
  std::shared_ptr<RcptCheck> held = std::move(rc);
  AskMilters("RCPT", to, [this, args](milter::Milters::Done d) { milters_->Rcpt(args, std::move(d)); },
             [this, held](std::optional<Answer> a) {
               if (a) return Reply(*a);
               AcceptRcpt(*held);
             });
}

// Access actions of an accepted stage apply to the whole message, as Postfix's.
void Session::ApplyEffects(Effects& e, std::string_view stage, std::string_view rcpt) {
  for (auto& [action, text] : e.notes) LogAction(action, stage, text, rcpt);
  for (std::string& h : e.prepend) txn_->prepend.push_back(std::move(h));
  txn_->hold |= e.hold;
  txn_->discard |= e.discard;
  if (!e.redirect.empty()) txn_->redirect = std::move(e.redirect);
  if (!e.filter.empty()) txn_->filter = std::move(e.filter);
  if (txn_->bcc.empty()) txn_->bcc = std::move(e.bcc);
}

void Session::AcceptRcpt(RcptCheck& rc) {
  std::string to = rc.rcpt.Canonical();
  ApplyEffects(rc.check.effects, "RCPT", to);
  txn_->last_rcpt = rc.rcpt;
  if (txn_->rcpts.empty()) {
    txn_->first_rcpt = to;
    AddForeignSenderHeader();
  }
  // cleanup (lib/cleanup) rewrites and expands it at commit.
  queue::Recipient r;
  r.address = to;
  if (rc.params.orcpt) r.orig_recipient = rc.params.orcpt_type + ";" + *rc.params.orcpt;
  r.notify = uint8_t(rc.params.notify);
  txn_->rcpts.push_back(std::move(r));
  Reply(250, "2.1.5", "Ok");
}

// SMTPD_POLICY_README's attributes, in Postfix's order; empty where postern
// lacks the fact (client certificates, ETRN, stress).
policy::Attributes Session::PolicyAttributes(const policy::ServiceSpec& spec) const {
  const RcptCheck& rc = *rcpt_check_;
  bool tls = tls_active();
  const smtp::MailParams& mp = txn_->params;
  using S = Policy::Stage;
  S at = rc.check.at;
  // Postfix: the recipient only when there is one; the count and, at the end, the real size.
  std::string rcpt = at == S::kRecipient || txn_->rcpts.size() == 1 ? rc.rcpt.Canonical() : "";
  uint64_t size = at == S::kEod && txn_->content ? txn_->content->bytes : mp.size ? *mp.size : 0;
  return {
      {"request", "smtpd_access_policy"},
      {"protocol_state", at == S::kData ? "DATA" : at == S::kEod ? "END-OF-MESSAGE" : "RCPT"},
      {"protocol_name", esmtp_ ? "ESMTP" : "SMTP"},
      {"helo_name", helo_},
      {"queue_id", ""},
      {"sender", txn_->sender.Canonical()},
      {"recipient", rcpt},
      {"recipient_count", at == S::kRecipient ? "0" : std::to_string(txn_->rcpts.size())},
      {"client_address", client_addr_},
      {"client_name", client_name_},
      {"reverse_client_name", reverse_name_},
      {"instance", txn_->instance},
      {"sasl_method", auth_.authenticated() ? auth_.mechanism : ""},
      {"sasl_username", auth_.username},
      {"sasl_sender", ""},
      {"size", std::to_string(size)},
      {"ccert_subject", ""},
      {"ccert_issuer", ""},
      {"ccert_fingerprint", ""},
      {"ccert_pubkey_fingerprint", ""},
      {"encryption_protocol", tls ? stream_->info().protocol : ""},
      {"encryption_cipher", tls ? stream_->info().cipher : ""},
      {"encryption_keysize", tls ? std::to_string(stream_->info().bits) : "0"},
      {"etrn_domain", ""},
      {"stress", ""},
      {"server_address", local_addr_},
      {"server_port", local_port_ ? std::to_string(local_port_) : ""},
      {"compatibility_level", svc_->compatibility_level()},
      {"mail_version", svc_->mail_version()},
      {"policy_context", spec.policy_context},
  };
}

// Postfix's instance: one value per MAIL transaction, so that a policy
// server can tell the RCPTs of one message from those of the next.
std::string NewPolicyInstance() {
  static unsigned seq = 0;
  timeval tv{};
  gettimeofday(&tv, nullptr);
  return fmt::format("{:x}.{:x}.{:x}.{:x}", unsigned(getpid()), tv.tv_sec, tv.tv_usec, seq++);
}

}  // namespace postern::smtpd
