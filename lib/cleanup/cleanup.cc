// cleanup/cleanup.cc — the cleanup sequence for one message, in Postfix's
// order: envelope rewriting at Begin/AddRecipient, content filtering and
// header rewriting while it streams, then commit and one qmgr wake-up.
#include "postern/cleanup/cleanup.h"

#include "postern/config/maincf.h"
#include "postern/ipc/trigger.h"
#include "postern/log/log.h"
#include "postern/rewrite/header_address.h"

namespace postern::cleanup {

namespace {

constexpr size_t kWriteChunk = 64 * 1024;  // content goes to the queue file in pieces of this size

queue::Status LookupFailure(const std::string& what) {
  return queue::Fail(queue::Code::kIo, what + " (temporary lookup failure)");
}

}  // namespace

// --- Cleanup ---------------------------------------------------------------

Result<std::unique_ptr<Cleanup>> Cleanup::FromConfig(const config::Config& cfg, queue::Queue* q, bool checks) {
  auto content = Options::FromConfig(cfg, checks);
  if (!content) return Err(content.error());
  auto rewriter = rewrite::AddressRewriter::FromConfig(cfg);
  if (!rewriter) return Err(rewriter.error());
  auto virt = rewrite::VirtualAliases::FromConfig(cfg);
  if (!virt) return Err(virt.error());
  return std::make_unique<Cleanup>(q, std::move(*content), std::move(*rewriter), std::move(*virt),
                                   cfg.Str("queue_directory"));
}

void Cleanup::UseGroupCommit(uv_loop_t* loop) {
  committer_ = std::make_unique<queue::AsyncCommitter>(q_, loop);
  // One wake-up for qmgr per group commit, however many messages it made durable.
  committer_->SetAfterBatch([this] { WakeQmgr(); });
}

void Cleanup::WakeQmgr() { ipc::TriggerQmgr(queue_directory_); }

queue::Outcome<std::unique_ptr<Message>> Cleanup::Begin(Submission s) {
  // 1. The envelope sender: sender_canonical_maps, canonical_maps, masquerading.
  if (!s.record.sender.empty() && rewriter_.Rewrites(rewrite::kEnvelopeSender)) {
    auto sender = rewriter_.Rewrite(s.record.sender, rewrite::kEnvelopeSender);
    if (!sender) {
      log::Warning("{}: message not accepted, try again later", sender.error());
      return LookupFailure(sender.error());
    }
    s.record.sender = std::move(*sender);
  }
  auto w = q_->Begin(std::move(s.record));
  if (!w.ok()) return w.status();
  std::unique_ptr<Message> m;
  if (s.checks || !content_.checks) {
    m.reset(new Message(this, std::move(*w), content_));
  } else {  // mail cleanup makes itself: no header/body checks
    Options o = content_;
    o.checks.reset();
    m.reset(new Message(this, std::move(*w), o));
  }
  // 2. Headers: missing ones of a local submission, address rewriting by class.
  const queue::MessageRecord& rec = m->record();
  m->content_.AddMissingHeaders(s.local, rec.id, rec.sender, rec.arrival);
  if (s.rewrite_headers &&
      (rewriter_.Rewrites(rewrite::kHeaderSender) || rewriter_.Rewrites(rewrite::kHeaderRecipient))) {
    Message* raw = m.get();
    m->content_.OnHeader([raw](std::string* h) { raw->RewriteHeader(h); });
  }
  return m;
}

// 4. Milters have seen a kept message by now (KeepContent; the caller runs
// them, as Postfix's cleanup_milter_inspect does before the commit).
queue::Outcome<queue::MsgId> Cleanup::Commit(std::unique_ptr<Message> m) {
  if (auto s = m->Seal(); !s.ok()) return s;
  auto id = q_->Commit(std::move(m->w_));
  if (id.ok()) WakeQmgr();
  return id;
}

void Cleanup::Submit(std::unique_ptr<Message> m, Done done) {
  if (auto s = m->Seal(); !s.ok()) return done(s);
  committer_->Submit(std::move(m->w_), std::move(done));
}

// --- Message ---------------------------------------------------------------

void Message::Fail(queue::Status s) {
  if (status_.ok()) status_ = std::move(s);
}

// 3. Envelope recipients: canonical, masquerading, then virtual alias expansion.
queue::Status Message::AddRecipient(queue::Recipient r) {
  if (!status_.ok()) return status_;
  const std::string given = r.address;
  if (c_->rewriter_.Rewrites(rewrite::kEnvelopeRecipient)) {
    auto a = c_->rewriter_.Rewrite(r.address, rewrite::kEnvelopeRecipient);
    if (!a) {
      log::Warning("{}: {}: message not accepted, try again later", queue::FormatMsgId(id()), a.error());
      Fail(LookupFailure(a.error()));
      return status_;
    }
    r.address = std::move(*a);
  }
  auto finals = c_->virtual_.Expand(r.address);
  if (!finals) {
    log::Warning("{}: virtual_alias_maps: {}: message not accepted, try again later", queue::FormatMsgId(id()),
                 finals.error());
    Fail(LookupFailure("virtual_alias_maps: " + finals.error()));
    return status_;
  }
  for (std::string& address : *finals) {
    queue::Recipient q;
    // ORCPT stays what the client sent; without one, a rewritten address
    // keeps what it was as the original recipient (Postfix's orig_to).
    q.orig_recipient = !r.orig_recipient.empty() ? r.orig_recipient
                       : address != given        ? rewrite::OrcptFor(given)
                                                 : "";
    q.address = std::move(address);
    q.notify = r.notify;
    rcpts_.push_back(std::move(q));
  }
  return status_;
}

// Postfix applies the checks' REDIRECT and BCC to the envelope as it is
// written; here the whole envelope is written at commit, after the content.
queue::Status Message::Seal() {
  if (!status_.ok()) return status_;
  const Verdict& v = content_.verdict();
  for (queue::Recipient& r : FinalRecipients(v, std::move(rcpts_))) {
    if (auto s = w_->AddRecipient(std::move(r)); !s.ok()) {
      Fail(s);
      return status_;
    }
  }
  rcpts_.clear();
  if (v.hold) w_->Hold();
  // The later FILTER wins; a REDIRECT overrides any (header_checks(5)).
  const std::string& filter = v.filter.empty() ? filter_ : v.filter;
  if (!filter.empty() && v.redirect.empty()) w_->SetFilter(filter);
  return status_;
}

void Message::RewriteHeader(std::string* header) {
  if (!status_.ok()) return;
  const rewrite::AddressRewriter& rw = c_->rewriter_;
  auto r = rewrite::RewriteAddressHeader(
      header, [&](rewrite::AddressClass c) { return rw.Rewrites(c); },
      [&](std::string_view a, rewrite::AddressClass c) { return rw.Rewrite(a, c); });
  if (!r) {
    log::Warning("{}: {}: message not accepted, try again later", queue::FormatMsgId(id()), r.error());
    Fail(LookupFailure(r.error()));
  }
}

queue::Status Message::Flush() {
  if (!buf_.empty() && status_.ok()) Fail(w_->Append(buf_));
  buf_.clear();
  return status_;
}

queue::Status Message::Append(std::string_view data) {
  if (!status_.ok()) return status_;
  size_t from = buf_.size();
  buf_.append(data);
  content_.Apply(&buf_, from);
  return buf_.size() >= kWriteChunk && !keep_ ? Flush() : status_;
}

queue::Status Message::Finish() {
  content_.Finish(&buf_);
  content_.Log(queue::FormatMsgId(id()));
  return keep_ ? status_ : Flush();
}

queue::Status Message::WriteContent(std::string_view content) {
  if (status_.ok()) Fail(w_->Append(content));
  return status_;
}

queue::Status Message::ChangeSender(std::string sender) {
  if (!status_.ok()) return status_;
  if (!sender.empty() && c_->rewriter_.Rewrites(rewrite::kEnvelopeSender)) {
    auto s = c_->rewriter_.Rewrite(sender, rewrite::kEnvelopeSender);
    if (!s) {
      log::Warning("{}: {}: message not accepted, try again later", queue::FormatMsgId(id()), s.error());
      Fail(LookupFailure(s.error()));
      return status_;
    }
    sender = std::move(*s);
  }
  w_->record().sender = std::move(sender);
  return status_;
}

}  // namespace postern::cleanup
