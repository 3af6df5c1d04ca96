// smtpd/session_content.cc — message content: DATA through the smuggling-safe
// decoder, BDAT chunks, the Received: header, and the message through
// lib/cleanup (rewriting, virtual aliases, content filter, hop count) to its
// group commit; 250 only once the queue says durable.
#include <ctime>

#include <fmt/format.h>

#include "postern/log/limited.h"
#include "postern/log/log.h"
#include "postern/smtp/received.h"
#include "smtpd/session.h"

namespace postern::smtpd {

namespace {

// A full disk fails every message alike: then one warning per interval.
void QueueWarning(const queue::Status& s, std::string_view prefix) {
  static log::LimitedWarning storage(std::chrono::seconds(10));
  if (s.code == queue::Code::kInsufficientStorage) storage.Warn("{}{}", prefix, s.message);
  else log::Warning("{}{}", prefix, s.message);
}

}  // namespace

// A REJECT of header/body checks: 550 with its reason, 451 for a 4.x.x one.
Session::Answer Session::ChecksAnswer(const cleanup::Verdict& v) {
  std::string_view reason = v.reason;
  size_t sp = reason.find(' ');
  if (sp == std::string_view::npos) return {v.code, std::string(reason), ""};
  return {v.code, std::string(reason.substr(0, sp)), std::string(reason.substr(sp + 1))};
}

Session::Answer Session::QueueErrorAnswer(queue::Code code) {
  if (code == queue::Code::kInsufficientStorage) return {452, "4.3.1", "Insufficient system storage"};
  return {451, "4.3.0", "Error: queue file write error"};
}

smtp::BareLf Session::BareLfMode() const {
  const Settings& st = svc_->settings();
  // Excluded clients are not rejected, but end-of-data stays strict for all.
  if (st.bare_lf == smtp::BareLf::kReject && st.bare_lf_exclusions.Contains(client_addr_) == std::optional<bool>(true))
    return smtp::BareLf::kNormalize;
  return st.bare_lf;
}

// RFC 3848/6531 names: ESMTP, ESMTPS, ESMTPA, ESMTPSA, UTF8SMTP(S)(A); plain
// SMTP (HELO) has no TLS or AUTH variant. Kept in the queue record too.
std::string Session::Protocol() const {
  std::string proto = txn_ && txn_->params.smtputf8 ? "UTF8SMTP" : esmtp_ ? "ESMTP" : "SMTP";
  if (proto == "SMTP") return proto;
  if (tls_active()) proto += "S";
  if (auth_.authenticated()) proto += "A";
  return proto;
}

std::string Session::ReceivedHeader(queue::MsgId id) const {
  const Settings& st = svc_->settings();
  // sendmail's submission names its user, not a TCP client: Postfix pickup's form.
  if (local_uid_)
    return smtp::LocalReceived(st.myhostname, st.mail_name, *local_uid_, queue::FormatMsgId(id), time(nullptr));
  std::string proto = Protocol();
  std::string h = "Received: from " + (helo_.empty() ? client_name_ : helo_) + " (" + client_name_ + " [" +
                  client_addr_ + "])" + TlsReceivedInfo() + AuthReceivedInfo() + "\r\n\tby " + st.myhostname + " (" + st.mail_name + ") with " + proto +
                  " id " + queue::FormatMsgId(id);
  if (txn_->rcpts.size() == 1)
    h += "\r\n\tfor <" + txn_->first_rcpt + ">; ";
  else
    h += ";\r\n\t";
  return h + smtp::MailDate(time(nullptr)) + "\r\n";
}

// Opens the queue file for the transaction, or says why the queue refuses.
std::optional<Session::Answer> Session::BeginContent() {
  queue::MessageRecord rec;
  rec.sender = txn_->sender.null ? "" : txn_->sender.Canonical();
  rec.arrival = time(nullptr);
  rec.client_name = client_name_;
  rec.client_addr = client_addr_;
  rec.client_port = client_port_;
  rec.helo = helo_;
  rec.protocol = Protocol();
  rec.auth_user = auth_.username;
  const smtp::MailParams& mp = txn_->params;
  if (mp.envid) rec.dsn_envid = *mp.envid;
  rec.dsn_ret = mp.ret == smtp::Ret::kFull ? queue::DsnRet::kFull
                : mp.ret == smtp::Ret::kHdrs ? queue::DsnRet::kHdrs : queue::DsnRet::kUnset;
  if (mp.body == smtp::Body::k8BitMime) rec.flags |= queue::kFlag8BitMime;
  if (mp.smtputf8) rec.flags |= queue::kFlagSmtpUtf8;
  cleanup::Submission sub;
  sub.record = std::move(rec);
  sub.local = local_uid_.has_value();  // sendmail's: missing headers are added
  sub.rewrite_headers = HeaderRewriteClient();
  sub.checks = true;
  auto m = svc_->cleanup().Begin(std::move(sub));
  if (!m.ok()) {
    QueueWarning(m.status(), "queue: ");
    reply_class_ = QueueErrorClass(m.code());  // for the reply made of this answer
    return QueueErrorAnswer(m.code());
  }
  auto c = std::make_unique<Content>();
  c->message = std::move(*m);
  cleanup::Message& msg = *c->message;
  smtp::DataDecoder::Options o;
  o.bare_lf = BareLfMode();
  o.line_limit = svc_->settings().line_length_limit;
  o.size_limit = svc_->settings().message_size_limit;
  c->decoder = smtp::DataDecoder(o);
  if (local_uid_)  // local submission: Postfix's pickup line names the user
    log::Info("{}: uid={} from=<{}>", queue::FormatMsgId(msg.id()), *local_uid_, msg.record().sender);
  else
    log::Info("{}: client={}{}", queue::FormatMsgId(msg.id()), Who(), AuthLogSuffix());
  msg.SetCheckContext({queue::FormatMsgId(msg.id()), local_uid_ ? "local" : Who(), msg.record().sender,
                       txn_->first_rcpt, local_uid_ ? "" : Protocol(), local_uid_ ? "" : helo_});
  // PREPEND actions go above our own Received:, as in Postfix.
  std::string head;
  for (const std::string& h : txn_->prepend) head += h + "\r\n";
  head += ReceivedHeader(msg.id());
  if (milters_) msg.KeepContent();  // they see the whole message at its end
  c->saving = svc_->quarantine() != nullptr;
  if (svc_->policy().wants_content_md5()) c->md5 = std::make_unique<tls::Digest>(GNUTLS_DIG_MD5);
  txn_->content = std::move(c);
  AppendContent(head);  // our own Received: counts as a hop, as in Postfix
  return std::nullopt;
}

// REDIRECT replaces the recipients, BCC adds one, FILTER names the route of
// every envelope: Postfix's access actions, applied when the message is queued.
std::vector<queue::Recipient> Session::EnvelopeRecipients(std::vector<queue::Recipient> rcpts,
                                                          cleanup::Message& m) {
  if (!txn_->redirect.empty()) rcpts.assign(1, queue::Recipient{txn_->redirect, "", 0});
  if (!txn_->bcc.empty()) rcpts.push_back(queue::Recipient{txn_->bcc, "", 0});
  if (!txn_->filter.empty() && txn_->redirect.empty()) m.SetFilter(txn_->filter);  // REDIRECT overrides FILTER
  return rcpts;
}

// Postfix's local_header_rewrite_clients: whose header addresses cleanup rewrites.
bool Session::HeaderRewriteClient() const {
  if (local_uid_) return true;
  const HeaderRewriteClients& h = svc_->settings().header_rewrite;
  if (h.all || (h.sasl && auth_.authenticated())) return true;
  if (h.mynetworks && svc_->policy().mynetworks().Contains(client_addr_) == std::optional<bool>(true)) return true;
  if (h.inet_interfaces) {
    auto ip = dns::IpAddress::Parse(client_addr_);
    if (ip && h.own.IsInterface(*ip)) return true;
  }
  return false;
}

void Session::Data(std::string_view arg) {
  if (!arg.empty()) return Reply(501, "5.5.4", "Syntax: DATA");
  if (!txn_) return Reply(503, "5.5.1", "Error: need RCPT command");
  if (txn_->bdat) return Reply(503, "5.5.1", "Error: DATA after BDAT");
  if (txn_->rcpts.empty()) return Reply(554, "5.5.1", "Error: no valid recipients");
  if (!svc_->policy().has_restrictions(Policy::Stage::kData)) return OpenData();
  CheckStage(Policy::Stage::kData, [this](Verdict v) {
    if (v.rejected()) return (void)RefuseStage("DATA", v, true);
    OpenData();
  });
}

void Session::OpenData() {
  if (auto refused = BeginContent()) return Reply(*refused);
  if (!milters_) return BeginData();
  AskMilters("DATA", "", [this](milter::Milters::Done d) { milters_->Data(std::move(d)); },
             [this](std::optional<Answer> a) {
               if (!a) return BeginData();
               ResetTxn();
               Reply(*a);
             });
}

void Session::BeginData() {
  Reply(354, "", "End data with <CR><LF>.<CR><LF>");
  phase_ = Phase::kData;
}

void Session::FeedData() {
  Content& c = *txn_->content;
  reader_.Consume(c.decoder.Feed(reader_.Rest(), &c.buf));
  PassContent();
  if (c.decoder.done()) EndOfContent();
}

// Decoded content goes on to cleanup; a failure sticks there until the end.
void Session::PassContent() {
  Content& c = *txn_->content;
  if (!c.buf.empty()) {
    AppendContent(c.buf);
    c.bytes += c.buf.size();
    if (c.md5) c.md5->Update(c.buf);
  }
  c.buf.clear();
}

// To cleanup, and a copy for smtpd_save_rejected while it fits the quarantine.
void Session::AppendContent(std::string_view data) {
  Content& c = *txn_->content;
  (void)c.message->Append(data);
  if (!c.saving) return;
  if (c.saved.size() + data.size() > svc_->settings().save_rejected->size_limit) {
    c.saving = false;
    std::string().swap(c.saved);
    return;
  }
  c.saved.append(data);
}

// smtpd_save_rejected (Plan 9's smtpd -s): a message refused after its
// content came is kept with the reply, the client and the envelope.
void Session::SaveRejected(const std::string& reply) {
  Content& c = *txn_->content;
  if (!c.saving) return;
  queue::QuarantineEntry e;
  e.reason = reply;
  e.client = Who();
  e.helo = helo_;
  e.sender = txn_->sender.Canonical();
  for (const queue::Recipient& r : txn_->rcpts) e.recipients.push_back(r.address);
  std::string id = queue::FormatMsgId(c.message->id());
  auto saved = svc_->quarantine()->Save(std::move(e), c.saved);
  if (saved) log::Info("{}: quarantine: saved as {} ({})", id, *saved, reply);
  else log::Warning("{}: quarantine: not saved: {}", id, saved.error());
}

void Session::Bdat(std::string_view arg) {
  // Whatever happens, a chunk whose size we know must be read off the wire.
  auto b = smtp::ParseBdatArg(arg, uint64_t(1) << 50);
  if (!b) return Reply(501, "5.5.4", "Syntax: BDAT count [LAST]");
  bdat_left_ = b->size;
  bdat_last_ = b->last;
  bdat_discard_ = true;
  phase_ = Phase::kBdat;
  if (!txn_) {
    bdat_discard_reply_ = {503, "5.5.1", "Error: need MAIL command"};
  } else if (txn_->rcpts.empty()) {
    bdat_discard_reply_ = {554, "5.5.1", "Error: no valid recipients"};
  } else if (txn_->bdat_error) {
    bdat_discard_reply_ = *txn_->bdat_error;
  } else if (!txn_->content) {
    txn_->bdat = true;
    bdat_discard_reply_ = {};
    if (!svc_->policy().has_restrictions(Policy::Stage::kData)) return OpenBdat();
    // The chunk waits in the reader until the restrictions have spoken.
    CheckStage(Policy::Stage::kData, [this](Verdict v) {
      if (!v.rejected()) return OpenBdat();
      bdat_discard_reply_ = RefuseStage("DATA", v, false);  // answered once the chunk is read
      txn_->bdat_error = bdat_discard_reply_;
    });
  } else {
    bdat_discard_ = false;
  }
}

void Session::OpenBdat() {
  if (auto refused = BeginContent()) {
    txn_->bdat_error = refused;
    bdat_discard_reply_ = *refused;
  } else {
    bdat_discard_ = false;
    if (milters_) BdatMilters();
  }
}

// The first chunk is the DATA stage for milters; a refusal answers every chunk.
void Session::BdatMilters() {
  AskMilters("DATA", "", [this](milter::Milters::Done d) { milters_->Data(std::move(d)); },
             [this](std::optional<Answer> a) {
               if (!a || !txn_) return;
               txn_->bdat_error = a;
               txn_->content.reset();
               bdat_discard_ = true;
               bdat_discard_reply_ = *a;
             });
}

void Session::FeedBdat() {
  size_t n = size_t(std::min<uint64_t>(bdat_left_, reader_.pending()));
  if (!bdat_discard_) AppendBdat(reader_.Rest().substr(0, n));
  reader_.Consume(n);
  bdat_left_ -= n;
  if (bdat_left_ == 0) EndBdatChunk();
}

// BDAT content is raw: no dot-unstuffing, but lines are stored CRLF-terminated.
void Session::AppendBdat(std::string_view chunk) {
  Content& c = *txn_->content;
  uint64_t limit = svc_->settings().message_size_limit;
  c.bdat_size += chunk.size();
  if (limit && c.bdat_size > limit) c.bdat_over_size = true;
  if (c.bdat_over_size) return;
  for (char ch : chunk) {
    if (ch == '\n' && !c.bdat_prev_cr) {
      c.bdat_bare_lf = true;
      c.buf += '\r';
    }
    c.buf += ch;
    c.bdat_prev_cr = ch == '\r';
  }
  PassContent();
}

void Session::EndBdatChunk() {
  phase_ = Phase::kCommand;
  if (bdat_discard_) {
    Reply(bdat_discard_reply_);
    if (bdat_last_ && txn_) ResetTxn();
    return;
  }
  Content& c = *txn_->content;
  if (!bdat_last_) {
    if (c.bdat_over_size) {
      txn_->bdat_error = Answer{552, "5.3.4", "Error: message file too big"};
      Reply(552, "5.3.4", "Error: message file too big");
      txn_->content.reset();
      return;
    }
    ++ok_[size_t(smtp::Verb::kBdat)];
    return Reply(250, "2.0.0", "Ok: " + std::to_string(c.bdat_size) + " bytes");
  }
  EndOfContent();
}

// End of DATA or the LAST chunk: content that arrived whole goes past the
// end-of-data restrictions first, as in Postfix (before cleanup's verdict).
void Session::EndOfContent() {
  Content& c = *txn_->content;
  phase_ = Phase::kCommand;
  PassContent();
  c.written = c.message->Finish();
  bool over = txn_->bdat ? c.bdat_over_size : c.decoder.over_size();
  bool bare = txn_->bdat ? c.bdat_bare_lf : c.decoder.saw_bare_lf();
  bool broken = over || (bare && BareLfMode() == smtp::BareLf::kReject) || !c.written.ok();
  if (broken || !svc_->policy().has_restrictions(Policy::Stage::kEod)) return SettleContent();
  CheckEndOfData();
}

// Refuse, or hand the message to the committer.
void Session::SettleContent() {
  Content& c = *txn_->content;
  const queue::Status& written = c.written;
  bool over = txn_->bdat ? c.bdat_over_size : c.decoder.over_size();
  bool bare = txn_->bdat ? c.bdat_bare_lf : c.decoder.saw_bare_lf();
  Answer a;
  bool checked = false;  // refused by header/body checks, which logged it as cleanup does
  if (over) {
    a = {552, "5.3.4", "Error: message file too big"};
  } else if (bare && BareLfMode() == smtp::BareLf::kReject) {
    a = {550, "5.5.2", "Error: bare <LF> received"};
  } else if (c.message->verdict().reject) {
    a = ChecksAnswer(c.message->verdict());
    checked = true;
  } else if (c.message->too_many_hops()) {
    a = {cleanup::kHopsCode, cleanup::kHopsStatus, std::string("Error: ") + cleanup::kHopsText};
  } else if (!written.ok()) {
    QueueWarning(written, queue::FormatMsgId(c.message->id()) + ": queue: ");
    a = QueueErrorAnswer(written.code);
  }
  if (a.code) {
    if (!checked) LogReject("END-OF-MESSAGE", a.code, a.enhanced, a.text, "");
    if (checked) SaveRejected(fmt::format("{} {} {}", a.code, a.enhanced, a.text));
    if (!written.ok())
      ReplyAs(QueueErrorClass(written.code), a.code, a.enhanced, a.text);
    else
      Reply(a);
    ResetTxn();  // the message goes, and its body with it
    ChatReset(svc_->settings().history_flush_threshold);
    return;
  }
  if (txn_->discard || c.message->verdict().discard) {  // DISCARD: claim delivery, keep nothing
    std::string id = queue::FormatMsgId(c.message->id());
    if (txn_->discard)
      log::Info("{}: discard: END-OF-MESSAGE from {}: message discarded by an access action", id, Who());
    const std::string& why = c.message->verdict().reason;
    SaveRejected(txn_->discard ? "DISCARD (access action)" : why.empty() ? "DISCARD" : "DISCARD " + why);
    ResetTxn();
    ++ok_[size_t(last_verb_ == smtp::Verb::kBdat ? smtp::Verb::kBdat : smtp::Verb::kData)];
    Reply(250, "2.0.0", "Ok: queued as " + id);
    ChatReset(svc_->settings().history_flush_threshold);
    return;
  }
  // Milters see the message after header/body checks, and not a discarded
  // one (Postfix's cleanup runs them last); session_milter.cc, then Commit.
  if (milters_) return MilterContent();
  Commit();
}

// The one place where smtpd settles a message's envelope, in Postfix's
// order: the milters' sender change and recipient deletions/additions apply
// to what the client sent; then smtpd's access actions (REDIRECT, BCC,
// FILTER); cleanup then rewrites each address and applies the header/body
// checks' verdict (which comes later, so its REDIRECT wins). A HOLD of any
// of them holds the message.
void Session::Commit(const milter::EnvelopeEdits& edits) {
  cleanup::Message& msg = *txn_->content->message;
  queue::Status st;
  if (edits.sender) st = msg.ChangeSender(*edits.sender);
  for (queue::Recipient& r : EnvelopeRecipients(MilterRecipients(edits), msg))
    if (st.ok()) st = msg.AddRecipient(std::move(r));
  if (!st.ok()) {
    QueueWarning(st, queue::FormatMsgId(msg.id()) + ": queue: ");
    Answer a = QueueErrorAnswer(st.code);
    ReplyAs(QueueErrorClass(st.code), a.code, a.enhanced, a.text);
    ResetTxn();
    ChatReset(svc_->settings().history_flush_threshold);
    return;
  }
  if (txn_->hold) msg.Hold();  // an access HOLD or a milter's quarantine
  phase_ = Phase::kCommitting;
  entry_.State("COMMIT");  // also starts profile queue's clock
  timer_.Stop();  // the queue, not the client, is what we wait for now
  std::unique_ptr<cleanup::Message> m = std::move(txn_->content->message);
  auto self = shared_from_this();  // keeps the lease until the queue answers
  svc_->cleanup().Submit(std::move(m), [self](queue::Outcome<queue::MsgId> r) { self->OnCommitted(std::move(r)); });
}

void Session::OnCommitted(queue::Outcome<queue::MsgId> r) {
  entry_.Committed(r.ok(), txn_ ? txn_->rcpts.size() : 0);
  if (r.ok() && txn_) svc_->settings().inbound.Accepted(txn_->rcpts, txn_->content ? txn_->content->bytes : 0);
  ResetTxn();
  phase_ = Phase::kCommand;
  smtp::Verb verb = last_verb_ == smtp::Verb::kBdat ? smtp::Verb::kBdat : smtp::Verb::kData;
  // qmgr was woken once for the whole batch (Service's committer hook).
  if (!r.ok()) QueueWarning(r.status(), "queue commit: ");
  if (finished_) return;  // the client left; the message (if committed) stays
  if (r.ok()) {
    ++ok_[size_t(verb)];
    Reply(250, "2.0.0", "Ok: queued as " + queue::FormatMsgId(*r));
  } else if (r.code() == queue::Code::kInsufficientStorage) {
    Reply(QueueErrorAnswer(r.code()));
  } else {
    Answer a = QueueErrorAnswer(r.code());
    ReplyAs(QueueErrorClass(r.code()), a.code, a.enhanced, a.text);
  }
  ChatReset(svc_->settings().history_flush_threshold);
  ArmTimeout();
  Process();
  Flush();
  ResumeReading();
}

void Session::ResetTxn() {
  if (milters_ && txn_) milters_->Abort();
  txn_.reset();
  bdat_discard_ = false;
}

}  // namespace postern::smtpd
