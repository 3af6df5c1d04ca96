// smtpd/session_data_check.cc — smtpd_data_restrictions at DATA (and the first
// BDAT) and smtpd_end_of_data_restrictions after the final dot, run as RCPT's
// resumable check (policy services, DNS, the policy cache); and the record of
// improper pipelining that reject_unauth_pipelining refuses.
#include <algorithm>

#include <fmt/format.h>

#include "postern/log/log.h"
#include "postern/stats/recorder.h"
#include "postern/util/strings.h"
#include "smtpd/session.h"

namespace postern::smtpd {

namespace {

// Postfix's SMTPD_CMD_FLAG_LAST: after these a client must wait for the reply.
bool EndsGroup(smtp::Verb v) {
  using V = smtp::Verb;
  return v == V::kHelo || v == V::kEhlo || v == V::kData || v == V::kNoop || v == V::kVrfy;
}

}  // namespace

// RFC 2920: a command that ends a group with more behind it, or any command
// with more behind it before the client could know that we pipeline (no
// EHLO). Logged once per session as Postfix does; local submission is exempt.
void Session::NotePipelining(smtp::Verb verb) {
  if (ill_pipelining_ || local_uid_ || reader_.pending() == 0) return;
  if (!EndsGroup(verb) && esmtp_) return;
  ill_pipelining_ = true;
  log::Info("improper command pipelining after {} from {}: {}", smtp::VerbName(verb), Who(), EscapedInput(reader_.Rest()));
}

// Runs the list of stage `at` for the whole transaction; `then` gets the
// verdict, at once or after the session held still for a service or lookup.
void Session::CheckStage(Policy::Stage at, std::function<void(Verdict)> then) {
  auto rc = std::make_unique<RcptCheck>();
  rc->check.at = at;
  if (txn_->rcpts.size() == 1) rc->rcpt = txn_->last_rcpt;
  std::vector<std::string> all;
  for (const queue::Recipient& r : txn_->rcpts) all.push_back(ToLower(r.address));
  std::sort(all.begin(), all.end());
  for (const std::string& r : all) rc->recipients += (rc->recipients.empty() ? "" : ",") + r;
  if (at == Policy::Stage::kEod && txn_->content && txn_->content->md5) rc->content_md5 = txn_->content->md5->Hex();
  rc->then = std::move(then);
  rcpt_check_ = std::move(rc);
  RunRcptCheck(svc_->policy().CheckRecipient(rcpt_check_->check, CheckFacts()));
}

void Session::FinishStage(Verdict v) {
  std::unique_ptr<RcptCheck> rc = std::move(rcpt_check_);
  bool eod = rc->check.at == Policy::Stage::kEod;
  std::string stage = eod ? "END-OF-MESSAGE" : "DATA";
  std::string to = txn_->rcpts.size() == 1 ? txn_->rcpts.front().address : "";
  if (v.rejected()) {
    for (auto& [action, text] : rc->check.effects.notes)
      if (action == "reject_warning") LogAction(action, stage, text, to);
  } else {
    Effects& e = rc->check.effects;
    // The headers are written by now: Postfix's PREPEND cannot run at the end.
    if (eod && !e.prepend.empty()) {
      log::Warning("smtpd_end_of_data_restrictions: PREPEND is not possible after the content; ignored");
      e.prepend.clear();
    }
    ApplyEffects(e, stage, to);
  }
  rc->then(std::move(v));
}

Session::Answer Session::RefuseStage(std::string_view stage, const Verdict& v, bool reply) {
  std::string to = txn_ && txn_->rcpts.size() == 1 ? txn_->rcpts.front().address : "";
  LogReject(stage, v.code, v.enhanced, v.text, to);
  stats::Count("smtp.check." + (v.check.empty() ? std::string(stage == "DATA" ? "data" : "eod") : CheckClass(v.check)) +
               ".reject");
  Answer a{v.code, v.enhanced, v.text};
  if (!reply) return a;
  // A table or configuration that could not be used (4.3.x) is not policy.
  bool ours = v.enhanced.rfind("4.3.", 0) == 0;
  ReplyAs(ours ? ErrorClass(v.code, v.enhanced) : notify::kClassPolicy, v.code, v.enhanced, v.text);
  return a;
}

// A reject after the final dot refuses the whole message, kept by
// smtpd_save_rejected like one that header or body checks refused.
void Session::CheckEndOfData() {
  CheckStage(Policy::Stage::kEod, [this](Verdict v) {
    if (!v.rejected()) return SettleContent();
    RefuseStage("END-OF-MESSAGE", v, true);
    SaveRejected(fmt::format("{} {} {}", v.code, v.enhanced, v.text));
    ResetTxn();
    ChatReset(svc_->settings().history_flush_threshold);
  });
}

}  // namespace postern::smtpd
