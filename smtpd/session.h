// smtpd/session.h — one SMTP session on the shared loop, and the process-wide
// state the sessions share (settings, policy, queue, cleanup with its group committer).
// A session keeps nothing big while idle: its buffers grow only while a
// command or a message is in flight and shrink again afterwards.
#pragma once

#include <array>
#include <functional>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "postern/cleanup/cleanup.h"
#include "postern/dns/resolver.h"
#include "postern/event/event.h"
#include "postern/milter/milters.h"
#include "postern/notify/notify.h"
#include "postern/queue/queue.h"
#include "postern/server/server.h"
#include "postern/smtp/address.h"
#include "postern/smtp/command.h"
#include "postern/smtp/data.h"
#include "postern/smtp/esmtp.h"
#include "postern/smtp/reader.h"
#include "postern/stats/policy_cache.h"
#include "postern/tls/digest.h"
#include "postern/tls/stream.h"
#include "smtpd/abuse.h"
#include "smtpd/auth.h"
#include "smtpd/notify.h"
#include "smtpd/policy.h"
#include "smtpd/policy_client.h"
#include "smtpd/sessions.h"
#include "smtpd/settings.h"

namespace postern::smtpd {

class Session;

// What every session of this process shares.
class Service {
 public:
  // `cleanup` (the way into the queue) uses `queue`.
  Service(server::Context& ctx, Settings settings, std::unique_ptr<Policy> policy,
          std::unique_ptr<queue::Queue> queue, std::unique_ptr<cleanup::Cleanup> cleanup);
  Service(const Service&) = delete;

  void Accept(server::Client c);
  // A finished session is destroyed on a later loop turn, never inside its own callback.
  void Retire(Session* s);

  const Settings& settings() const { return settings_; }
  // `postern set option`: sessions read the settings afresh at each use.
  void Reconfigure(Settings s) {
    settings_ = std::move(s);
    cleanup_->content_options() = settings_.cleanup;
  }
  Policy& policy() { return *policy_; }
  queue::Queue& queue() { return *queue_; }
  Authenticator& auth() { return *auth_; }
  void SetAuth(std::unique_ptr<Authenticator> a) { auth_ = std::move(a); }
  cleanup::Cleanup& cleanup() { return *cleanup_; }
  // smtpd_save_rejected's area; null when the mail is not kept.
  queue::Quarantine* quarantine() { return quarantine_.get(); }
  policy::Clients& policy_clients() { return policy_clients_; }
  // The process's resolver (client names, DNS restrictions); null when none could be made.
  dns::Resolver* resolver() const { return resolver_; }
  void SetResolver(dns::Resolver* r) { resolver_ = r; }
  // The policy cache (check_greylist, check_message_limits, the greeting
  // delay's dumb: records); null when nothing needs one or it could not be opened.
  cache::Cache* cache() const { return cache_.get(); }
  void SetCache(std::unique_ptr<cache::Cache> c) { cache_ = std::move(c); }
  // Attributes of every policy request from this process (mail_version, ...).
  const std::string& compatibility_level() const { return compatibility_level_; }
  const std::string& mail_version() const { return mail_version_; }
  const std::string& service_name() const { return service_name_; }
  uv_loop_t* loop() const { return loop_; }
  // Sessions from one client address in this process (the connection count limit).
  int AddClient(const std::string& addr) { return ++per_addr_[addr]; }
  int ClientCount(const std::string& addr) const {
    auto it = per_addr_.find(addr);
    return it == per_addr_.end() ? 0 : it->second;
  }
  void RemoveClient(const std::string& addr);
  // The abuse controls' anvil handle (abuse.h).
  Guard& guard() { return guard_; }
  // notify.cc: mails a session transcript to error_notice_recipient (rate limited).
  void NotifyPostmaster(const std::string& peer, const std::string& transcript, const std::string& reason);

 private:
  uv_loop_t* loop_;
  std::function<server::Lease()> hold_;  // keeps a retiring worker until notices are durable
  notify::Limiter notice_limit_{kNoticeBurst, kNoticeWindowSeconds};
  std::string service_name_;
  Settings settings_;
  std::unique_ptr<Policy> policy_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<queue::Queue> queue_;
  dns::Resolver* resolver_ = nullptr;
  std::unique_ptr<cache::Cache> cache_;
  std::unique_ptr<cleanup::Cleanup> cleanup_;  // with the group committer
  std::unique_ptr<queue::Quarantine> quarantine_;
  policy::Clients policy_clients_;
  std::string compatibility_level_, mail_version_;
  queue::ReaderCheckTimer reader_check_;
  std::unordered_map<Session*, std::shared_ptr<Session>> sessions_;
  std::vector<std::shared_ptr<Session>> retired_;
  event::Timer reaper_;
  Guard guard_;
  std::unordered_map<std::string, int> per_addr_;  // this process's sessions per address ({client_connections})
};

// A new value of the policy protocol's instance attribute (one per MAIL).
std::string NewPolicyInstance();

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Service* svc, server::Client c);
  ~Session();
  Session(const Session&) = delete;
  void Start();
  // The connection is encrypted (after STARTTLS, or on a wrapper-mode port).
  bool tls_active() const { return stream_ && stream_->tls(); }

 private:
  enum class Phase { kCommand, kData, kBdat, kMilter, kCommitting };  // kMilter: end of message at the milters

  // A reply kept for later (the answer to BDAT chunks still to come).
  struct Answer {
    int code = 0;
    std::string enhanced, text;
  };
  // The message being received (DATA or BDAT).
  struct Content {
    std::unique_ptr<cleanup::Message> message;  // through cleanup into the queue
    smtp::DataDecoder decoder;
    std::string buf;           // decoded content not yet handed to cleanup
    uint64_t bdat_size = 0;    // BDAT content bytes so far
    uint64_t bytes = 0;        // content handed to the writer (inbound route volume)
    bool bdat_prev_cr = false;
    bool bdat_bare_lf = false;
    bool bdat_over_size = false;
    // smtpd_save_rejected: what went to cleanup, while it fits the quarantine.
    std::string saved;
    bool saving = false;
    std::unique_ptr<tls::Digest> md5;  // greylist_key content: the client's headers and body
    queue::Status written;             // the writer's state at the end of the content
  };
  // One MAIL transaction.
  struct Txn {
    smtp::Address sender;
    smtp::MailParams params;
    std::vector<queue::Recipient> rcpts;
    std::string first_rcpt;        // for the Received: header's "for <...>"
    std::unique_ptr<Content> content;
    bool bdat = false;              // content is arriving in BDAT chunks
    long long overshoot = 0;        // RCPTs refused past smtpd_recipient_limit
    std::optional<Answer> bdat_error;  // answer to the rest of the chunks
    std::string instance;           // the policy protocol's instance: one per MAIL
    smtp::Address last_rcpt;        // the latest accepted RCPT (DATA's recipient when it is the only one)
    std::vector<std::string> prepend;  // PREPEND actions: headers above our Received:
    bool hold = false, discard = false;  // HOLD and DISCARD actions
    std::string redirect, bcc, filter;   // REDIRECT, BCC and FILTER actions (policy.h: Effects)
    bool limits_counted = false;  // check_message_limits counted this message's client and sender
  };
  // One RCPT whose restrictions wait for a policy service.
  struct RcptCheck {
    smtp::Address rcpt;
    smtp::RcptParams params;
    Policy::Check check;
    std::unique_ptr<ipc::Call> verify_call;  // to verify(8), while check.verify waits
    dns::Ticket lookup;  // the DNS fact check.dns asks for
    std::string raw_params;  // as the client wrote them, for milters
    std::optional<Verdict> cache_inline;  // the cache answered before RunCacheStep returned
    // DATA and end of data (check.at): what the stage does with the verdict,
    // all recipients for greylist keys, and the content's MD5.
    std::function<void(Verdict)> then;
    std::string recipients, content_md5;
  };

  // session.cc: the connection and the command loop.
  void OnRead(std::string_view data);
  void OnEnd(int status);
  void Process();
  bool NextLine();  // runs one command; false when none is complete
  void Command(std::string_view line);
  void Reply(int code, std::string_view enhanced, std::string_view text);
  void Reply(const Answer& a) { Reply(a.code, a.enhanced, a.text); }
  void Flush();
  void ArmTimeout();
  void OnTimeout();
  void CloseAfterFlush();
  void Finish(bool lost);
  void PauseReading();
  void ResumeReading();
  // After the session held still (AUTH check, policy service): sends the
  // answer and picks up what the client pipelined meanwhile, unless it is
  // paused again (error tarpit, another service) or closing.
  void AfterWait();
  std::string Who() const { return client_name_ + "[" + client_addr_ + "]"; }
  bool QueueHasRoom(uint64_t size);  // free space for a message of `size` (0: unknown)
  void LogReject(std::string_view stage, int code, std::string_view enh, std::string_view text,
                 std::string_view rcpt);
  std::string DisconnectCounts() const;
  // Reply with an error class other than ErrorClass() gives (smtpd/notify.h).
  void ReplyAs(unsigned error_class, int code, std::string_view enhanced, std::string_view text);

  // notify.cc: the transcript for postmaster notices (notify_classes).
  bool Chatting() const;
  void ChatOut();
  void ChatIn(std::string_view line);
  void ChatAuthIn(std::string_view line, std::string_view arg);
  void ChatReset(size_t threshold);

  // auth_session.cc: AUTH (RFC 4954).
  bool AuthOffered() const;
  std::string AuthEhloLine() const;
  void Auth(std::string_view arg);
  void AuthChallenge(std::string_view text);
  void AuthAbort(int code, std::string_view enh, std::string_view text);
  void AuthGarbage(std::string_view text);  // a response that cannot be a login: a failed attempt
  void AuthTooManyFailures();
  void AuthResponse(std::string_view line);
  void AuthVerify(std::string user, std::string password);
  void AuthDone(AuthOutcome o, const std::string& user, std::string reason = {});
  void AuthResume(int code, std::string_view enh, std::string_view text);
  std::string AuthLogSuffix() const;
  std::string AuthReceivedInfo() const;  // "(Authenticated sender: user)" when enabled

  // auth_dovecot.cc: AUTH relayed to Dovecot's auth server (smtpd_sasl_type = dovecot).
  bool AuthWaitForMechanisms(std::string_view helo_arg);  // true: EHLO waits for the handshake
  void AuthDovecotStart(std::optional<std::string> initial);
  void AuthDovecotSend(std::optional<std::string> initial);
  void AuthDovecotContinue(std::string_view line);
  void AuthDovecotAnswer(dovecot::Client::Answer a);
  void AuthDovecotForget();

  // tls.cc: STARTTLS and wrapper mode.
  void Starttls(std::string_view arg);
  bool StartWrapperTls();  // false: not a wrapper-mode service
  void OnTlsReady(Result<void> r, bool wrapper);
  std::string TlsReceivedInfo() const;  // the Received header's "(using ...)" lines

  // session_abuse.cc: anvil limits, the greeting delay, early talkers.
  bool LimitExempt() const;  // smtpd_client_event_limit_exceptions, local submission
  bool AdmitConnection();    // false: refused with 421, closing
  bool RefuseConnection(const std::string& text, std::string_view check);
  // "mail", "rcpt", "auth": true when refused (450) or waiting for a shared
  // count, after which `again` runs the command once more.
  bool RateLimited(std::string_view kind, std::function<void()> again);
  bool NewTlsLimited(std::function<void()> again);
  // One more event of kind: true with its count, or false while the session
  // waits for Redis; then `again` re-runs the caller, which finds the count.
  bool RateCount(std::string_view kind, std::function<void()> again, std::optional<uint64_t>* count);
  bool DelayGreeting();  // true: the banner is not sent now
  void OnDumbRecord(const std::optional<std::string>& known);
  void SendGreeting();
  void EarlyTalker(std::string_view data);
  void RefuseEarlyTalker();

  // session_cmd.cc: the commands.
  void Helo(std::string_view arg, bool ehlo);
  void Mail(std::string_view arg);
  void Rcpt(std::string_view arg);
  void Vrfy(std::string_view arg);
  void Rset(std::string_view arg);
  void Unknown(std::string_view line);  // 502, unless a milter answers otherwise
  void HeloReply(bool ehlo);
  std::optional<smtp::Address> ParseAddress(std::string_view path, bool sender, bool utf8);
  bool Trusted() const;  // local submission, SASL, or mynetworks: bare local parts get $myorigin
  Facts MakeFacts(const smtp::Address* rcpt) const;

  // session_identity.cc: the client's names, DNS lookups of restrictions, debug_peer_list.
  void StartNameLookup();
  void OnClientName(const dns::ConfirmedNameResult& r);
  void LogConnect();
  void LookupForCheck();
  void OnCheckAnswer(DnsFact fact, uint32_t ttl);
  void AddForeignSenderHeader();

  // session_policy.cc: RCPT's restrictions, which may wait for policy services.
  void CheckRcpt(std::unique_ptr<RcptCheck> rc);
  void RunRcptCheck(Verdict v);
  void OnPolicyAction(std::string action);
  void AskVerify();
  void OnVerifyAnswer(Result<ipc::VerifyAnswer> answer);
  void AskCache();
  void OnCacheAnswer(Verdict v);
  void FinishRcpt(Verdict v);
  void AcceptRcpt(RcptCheck& rc);
  // Access actions of an accepted stage: logged, and applied to the message.
  void ApplyEffects(Effects& e, std::string_view stage, std::string_view rcpt);
  Facts CheckFacts() const;  // the facts of rcpt_check_'s stage
  policy::Attributes PolicyAttributes(const policy::ServiceSpec& spec) const;
  void LogAction(std::string_view action, std::string_view stage, std::string_view text, std::string_view rcpt);

  // session_data_check.cc: smtpd_data_restrictions, smtpd_end_of_data_restrictions,
  // and the pipelining they may refuse.
  void CheckStage(Policy::Stage at, std::function<void(Verdict)> then);
  void FinishStage(Verdict v);
  // Logs a refusal at DATA or END-OF-MESSAGE; answers it now unless `reply` is false.
  Answer RefuseStage(std::string_view stage, const Verdict& v, bool reply);
  void CheckEndOfData();
  void NotePipelining(smtp::Verb verb);

  // session_milter.cc: smtpd_milters / non_smtpd_milters at each stage.
  using MilterSend = std::function<void(milter::Milters::Done)>;
  using MilterThen = std::function<void(std::optional<Answer>)>;
  void MilterConnect();  // then Greet()
  void Greet();
  // Pauses the session, sends one event through the milters, and resumes
  // with the reply to make (nullopt: carry on). Logs milter-reject & co.
  void AskMilters(std::string_view stage, std::string_view rcpt, MilterSend send, MilterThen then);
  std::optional<Answer> MilterAnswer(std::string_view stage, std::string_view rcpt, const milter::Outcome& o);
  milter::MacroValues MilterMacros(const std::vector<std::string>& names) const;
  std::optional<std::string> MilterMacro(std::string_view name) const;  // nullopt: not defined
  void MilterContent();      // end of message: content through the milters, then commit
  void AfterMilterContent(milter::Outcome o, const milter::Message& m, const milter::EnvelopeEdits& env);
  // The client's recipients after the milters' deletions and additions.
  std::vector<queue::Recipient> MilterRecipients(const milter::EnvelopeEdits& env) const;

  // session_content.cc: DATA, BDAT and the hand-off to the queue.
  void Data(std::string_view arg);
  void OpenData();      // DATA past its restrictions: the queue file, the milters, 354
  void Bdat(std::string_view arg);
  void OpenBdat();      // the first chunk past the DATA restrictions
  std::optional<Answer> BeginContent();  // nullopt: the queue file is open
  // rcpts after the access actions REDIRECT/BCC; an access FILTER goes to m.
  std::vector<queue::Recipient> EnvelopeRecipients(std::vector<queue::Recipient> rcpts, cleanup::Message& m);
  // What the client hears when the queue failed (Postfix's cleanup answers).
  static Answer QueueErrorAnswer(queue::Code code);
  static Answer ChecksAnswer(const cleanup::Verdict& v);
  void FeedData();
  void FeedBdat();
  void BdatMilters();
  void AppendBdat(std::string_view chunk);
  void EndBdatChunk();
  void PassContent();
  void AppendContent(std::string_view data);
  void SaveRejected(const std::string& reply);
  bool HeaderRewriteClient() const;
  void EndOfContent();
  void SettleContent();  // after the end-of-data restrictions: refuse, discard or commit
  void BeginData();  // after DATA's milter event: 354
  void Commit(const milter::EnvelopeEdits& edits = {});  // the envelope settled, to the committer
  void OnCommitted(queue::Outcome<queue::MsgId> r);
  void ResetTxn();
  std::string Protocol() const;  // "ESMTPSA" and the like
  std::string ReceivedHeader(queue::MsgId id) const;
  smtp::BareLf BareLfMode() const;

  Service* svc_;
  std::unique_ptr<tls::Stream> stream_;
  server::Lease lease_;
  event::Timer timer_;
  std::string client_addr_, client_name_ = "unknown", local_addr_;
  std::string reverse_name_ = "unknown";  // first PTR name, unconfirmed (reverse_client_name)
  NameStatus name_status_ = NameStatus::kPermFail, reverse_status_ = NameStatus::kPermFail;
  bool naming_ = false;          // the name lookup runs: commands wait for it
  bool connect_logged_ = false;  // "connect from" waits for the name
  uint8_t debug_level_ = 0;      // debug_peer_level when the client is in debug_peer_list
  dns::Ticket name_lookup_;
  uint16_t local_port_ = 0, client_port_ = 0;
  std::unique_ptr<milter::Milters> milters_;  // none configured: null
  std::string milter_rcpt_;                   // the RCPT being shown to milters ({rcpt_addr})
  bool milter_after_name_ = false;            // the milters' CONNECT waits for the client's name
  uint64_t greet_start_ms_ = 0;  // loop time when the greeting delay began
  bool greeting_pending_ = false;  // the delayed banner is not out yet
  bool anvil_counted_ = false;     // in the host-wide connection count
  bool count_checked_ = false;     // the connection count limit was applied (not again when AdmitConnection resumes)
  std::optional<std::pair<std::string, std::optional<uint64_t>>> rate_answer_;  // a shared rate's answer, by kind
  bool counted_ = false;           // in Service's per-process count ({client_connections})
  sessions::Entry entry_{&client_name_, &client_addr_};  // show sessions, kill session
  std::string helo_;
  bool esmtp_ = false;
  std::optional<unsigned> local_uid_;  // local submission: the peer's uid (SO_PEERCRED)
  bool helo_after_tls_ = false;  // STARTTLS done, no EHLO yet: MAIL must wait
  bool ill_pipelining_ = false;  // commands sent ahead where not allowed (reject_unauth_pipelining)
  Phase phase_ = Phase::kCommand;
  bool paused_ = false;     // an error reply is being delayed
  bool reading_ = false;
  bool closing_ = false;
  bool finished_ = false;
  smtp::CommandReader reader_;  // received, not yet processed: commands and content
  std::string out_;          // replies not yet written: one write per batch
  uint64_t bdat_left_ = 0;
  bool bdat_last_ = false;
  bool bdat_discard_ = false;
  Answer bdat_discard_reply_;
  std::unique_ptr<Txn> txn_;
  std::unique_ptr<RcptCheck> rcpt_check_;  // a RCPT waiting for a policy service  // out of line: an idle session does not carry its ~340 bytes
  long long errors_ = 0;
  int last_code_ = 0;
  smtp::Verb last_verb_ = smtp::Verb::kUnknown;
  bool any_command_ = false;
  AuthState auth_;
  std::array<uint32_t, 17> ok_{}, total_{};  // per smtp::Verb
  notify::Transcript chat_;
  size_t chat_out_mark_ = 0;    // out_ bytes already in chat_
  unsigned error_mask_ = 0;     // notify classes of this session's errors so far
  std::optional<unsigned> reply_class_;  // ReplyAs's class for the reply being made
  std::string reason_;          // why the session ended early: "lost connection", "timeout"
};

}  // namespace postern::smtpd
