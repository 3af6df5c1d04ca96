// cleanup/cleanup.h — the one way into the queue (Postfix's cleanup(8) as an
// in-process library): every program that makes a message (smtpd, pickup,
// local's forwarding, bounce, smtpd's postmaster notices) hands it the
// envelope and the content; see docs/ARCHITECTURE.md for the walk.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "postern/cleanup/content.h"
#include "postern/queue/committer.h"
#include "postern/queue/queue.h"
#include "postern/rewrite/canonical.h"
#include "postern/rewrite/virtual.h"

namespace postern::config {
class Config;
}

namespace postern::cleanup {

// What an enqueuer knows of a new message besides its content.
struct Submission {
  queue::MessageRecord record;  // sender as received (cleanup rewrites it), client, protocol, DSN, flags
  // A local submission (sendmail, pickup): Message-Id:, Date: and From: are
  // added when missing, as Postfix's cleanup does for them.
  bool local = false;
  // Postfix's local_header_rewrite_clients: header addresses are rewritten
  // (canonical, masquerading) only for mail from a local client.
  bool rewrite_headers = true;
  // Mail from outside (smtpd, pickup): header_checks ... body_checks inspect
  // it. Postfix spares mail that it makes itself (forwarding, notices, bounces).
  bool checks = false;
};

class Cleanup;

// One message on its way in. Order of use: AddRecipient (any time before
// commit), Append the caller's own headers (Received:) then the message,
// Finish, then Cleanup::Commit or Submit. A failed step sticks: later calls
// do nothing and Finish reports it; destroying the message removes its body.
class Message {
 public:
  queue::MsgId id() const { return w_->id(); }
  const queue::MessageRecord& record() const { return w_->record(); }
  // Commit out of qmgr's sight (HOLD; cleanup's bounce of a refused message).
  void Hold() { w_->Hold(); }
  // The transport:nexthop that routes every recipient (an access FILTER); a
  // header/body checks FILTER comes later and wins, as in Postfix.
  void SetFilter(std::string filter) { filter_ = std::move(filter); }
  // Who the message is from, for the checks' log lines (before the first Append).
  void SetCheckContext(LogContext c) { content_.SetCheckContext(std::move(c)); }

  // An envelope recipient: recipient_canonical_maps, canonical_maps,
  // masquerading (for their classes), then virtual_alias_maps; each final
  // address is kept, with the address as given for DSN ORCPT when it
  // changed, and queued at commit after the checks' REDIRECT and BCC. A table
  // failure is kIo: the message must not be accepted now.
  queue::Status AddRecipient(queue::Recipient r);
  size_t recipients() const { return rcpts_.size(); }

  // Content in pieces of any size: stray CR/LF, header_size_limit, hop
  // count, header rewriting; written out in large pieces.
  queue::Status Append(std::string_view data);
  // End of content: flushes, logs what cleanup changed ("message-id=...").
  queue::Status Finish();

  // Milters (smtpd_milters, non_smtpd_milters) see the whole message after
  // cleanup's own filtering and may edit it, as Postfix's cleanup runs them
  // at the end of the message. KeepContent (before the first Append) holds
  // the filtered content here instead of writing it; after Finish,
  // TakeContent hands it over and WriteContent writes the edited copy.
  void KeepContent() { keep_ = true; }
  std::string TakeContent() { return std::move(buf_); }
  queue::Status WriteContent(std::string_view content);
  // A milter's new envelope sender (SMFIR_CHGFROM; "" is the null sender):
  // sender_canonical_maps, canonical_maps and masquerading, as at Begin.
  queue::Status ChangeSender(std::string sender);

  bool too_many_hops() const { return content_.too_many_hops(); }
  // What header/body checks decided; REJECT and DISCARD are the caller's to
  // act on (smtpd answers, pickup bounces or drops), the rest cleanup applies.
  const Verdict& verdict() const { return content_.verdict(); }
  const Content& content() const { return content_; }
  const queue::Status& status() const { return status_; }

 private:
  friend class Cleanup;
  Message(Cleanup* c, std::unique_ptr<queue::MessageWriter> w, const Options& o) : c_(c), w_(std::move(w)), content_(o) {}
  void Fail(queue::Status s);
  void RewriteHeader(std::string* header);
  queue::Status Flush();
  // At commit: the checks' REDIRECT/BCC on the recipients, HOLD, FILTER.
  queue::Status Seal();

  Cleanup* c_;
  std::unique_ptr<queue::MessageWriter> w_;
  Content content_;
  std::string buf_;  // filtered content not yet written
  std::vector<queue::Recipient> rcpts_;  // final envelope recipients, queued by Seal
  std::string filter_;
  queue::Status status_;
  bool keep_ = false;  // KeepContent: the content waits for the milters
};

class Cleanup {
 public:
  using Done = std::function<void(queue::Outcome<queue::MsgId>)>;

  Cleanup(queue::Queue* q, Options content, rewrite::AddressRewriter rewriter, rewrite::VirtualAliases virt,
          std::string queue_directory)
      : q_(q), content_(std::move(content)), rewriter_(std::move(rewriter)), virtual_(std::move(virt)),
        queue_directory_(std::move(queue_directory)) {}
  // Content options, canonical/masquerade rewriting and virtual_alias_maps
  // from main.cf, with `checks` also header_checks ... body_checks (for
  // Submission::checks); `q` outlives the Cleanup.
  static Result<std::unique_ptr<Cleanup>> FromConfig(const config::Config& cfg, queue::Queue* q,
                                                     bool checks = false);

  // For programs on an event loop (smtpd): Submit() commits through a group
  // committer on `loop`, one qmgr wake-up per batch. Call on the loop thread.
  void UseGroupCommit(uv_loop_t* loop);
  Options& content_options() { return content_; }  // smtpd drops Return-Path:

  // A new message: the envelope sender goes through sender_canonical_maps,
  // canonical_maps and masquerading; a local submission gets its missing
  // headers. Fails as the queue does (kInsufficientStorage below
  // queue_minfree) or kIo when a rewriting table fails.
  queue::Outcome<std::unique_ptr<Message>> Begin(Submission s);

  // Makes a finished message durable (recipients, HOLD and FILTER as the
  // checks decided) and wakes qmgr (unless held).
  queue::Outcome<queue::MsgId> Commit(std::unique_ptr<Message> m);
  // The same through the group committer; `done` runs on the loop thread.
  void Submit(std::unique_ptr<Message> m, Done done);

  queue::Queue* queue() { return q_; }
  // Postfix's cleanup wakes qmgr after each message (QMGR_REQ_SCAN_INCOMING).
  void WakeQmgr();

 private:
  friend class Message;
  queue::Queue* q_;
  Options content_;
  rewrite::AddressRewriter rewriter_;
  rewrite::VirtualAliases virtual_;
  std::string queue_directory_;
  std::unique_ptr<queue::AsyncCommitter> committer_;
};

}  // namespace postern::cleanup
