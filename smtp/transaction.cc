// smtp/transaction.cc — the mail transaction on an open connection: MAIL,
// RCPT and DATA (pipelined when offered), the body streamed from the queue
// with dot-stuffing in large writes, and the replies mapped to recipients
// (one final reply for SMTP, one per accepted recipient for LMTP).
#include <algorithm>

#include "postern/log/log.h"
#include "postern/queue/schema.h"
#include "postern/smtp/address.h"
#include "postern/smtp/esmtp.h"
#include "postern/util/strings.h"
#include "smtp/delivery.h"
#include "smtp/format.h"

namespace postern::smtp_client {

namespace {
constexpr size_t kReadChunk = 256 * 1024;  // body bytes per read(2)
constexpr size_t kWriteChunk = 256 * 1024;  // stuffed bytes per write(2)

bool Pipelined(const Conn& c) { return c.esmtp && c.ehlo.pipelining; }
}  // namespace

// RFC 5321 §4.1.2: a local part that is no dot-string goes in quotes.
std::string Delivery::EnvelopeAddress(const std::string& address) const {
  size_t at = address.rfind('@');
  if (!s_.quote_rfc821_envelope || address.empty() || at == 0) return address;
  if (at == std::string::npos) return smtp::QuoteLocalPart(address);
  return smtp::QuoteLocalPart(std::string_view(address).substr(0, at)) + address.substr(at);
}

std::string Delivery::MailCommand() const {
  const auto& e = conn_->ehlo;
  std::string cmd = "MAIL FROM:<" + EnvelopeAddress(*wire_sender_) + ">";
  if (!conn_->esmtp) return cmd + "\r\n";
  // Postfix announces no SIZE when converting: the size would change.
  if (e.size_offered && !downgrade_) cmd += " SIZE=" + std::to_string(body_size_);
  if ((req_.flags & queue::kFlag8BitMime) && e.eightbitmime) cmd += " BODY=8BITMIME";
  if ((req_.flags & queue::kFlagSmtpUtf8) && e.smtputf8) cmd += " SMTPUTF8";
  if (e.dsn) {
    if (req_.dsn_ret == uint8_t(queue::DsnRet::kFull)) cmd += " RET=FULL";
    if (req_.dsn_ret == uint8_t(queue::DsnRet::kHdrs)) cmd += " RET=HDRS";
    if (!req_.dsn_envid.empty()) cmd += " ENVID=" + smtp::XtextEncode(req_.dsn_envid);
  }
  return cmd + "\r\n";
}

std::string Delivery::RcptCommand(size_t i) const {
  const auto& r = req_.recipients[i];
  std::string cmd = "RCPT TO:<" + EnvelopeAddress(wire_rcpts_[i]) + ">";
  if (conn_->esmtp && conn_->ehlo.dsn) {
    if (r.notify) cmd += " NOTIFY=" + smtp::FormatNotify(r.notify);
    if (!r.orig_recipient.empty()) {
      // Stored as "type;address" with the address decoded; the wire wants xtext.
      size_t semi = r.orig_recipient.find(';');
      std::string type = semi == std::string::npos ? "rfc822" : r.orig_recipient.substr(0, semi);
      std::string addr = semi == std::string::npos ? r.orig_recipient : r.orig_recipient.substr(semi + 1);
      cmd += " ORCPT=" + type + ";" + smtp::XtextEncode(addr);
    }
  }
  return cmd + "\r\n";
}

bool Delivery::MapEnvelope() {
  if (wire_sender_) return true;
  const Generic& g = w_.generic;
  auto sender = g.empty() ? Result<std::string>(req_.sender) : g.Address(req_.sender);
  std::vector<std::string> rcpts;
  for (size_t i = 0; sender && i < req_.recipients.size(); ++i) {
    auto r = g.empty() ? Result<std::string>(req_.recipients[i].address) : g.Address(req_.recipients[i].address);
    if (!r) sender = Err(r.error());
    else rcpts.push_back(std::move(*r));
  }
  if (!sender) {
    log::Warning("{}: {}", queue::FormatMsgId(req_.message_id), sender.error());
    SetAllOpen(ipc::DeliveryStatus::kDeferred, "4.3.0", "smtp_generic_maps lookup failure", "none");
    return false;
  }
  wire_sender_ = std::move(*sender);
  wire_rcpts_ = std::move(rcpts);
  return true;
}

void Delivery::Transaction() {
  const auto& e = conn_->ehlo;
  if (!MapEnvelope()) return Finish(false);
  if ((req_.flags & queue::kFlagSmtpUtf8) && !(conn_->esmtp && e.smtputf8)) {
    auto refusal = Utf8Refusal();
    if (!refusal) {
      SetAllOpen(ipc::DeliveryStatus::kDeferred, "4.3.0", "error reading message body: " + refusal.error(), "none");
      return Finish(false);
    }
    if (!refusal->empty()) {
      SetAllOpen(ipc::DeliveryStatus::kBounced, "5.6.7", *refusal, conn_->relay());
      return Finish(false);
    }
  }
  downgrade_ = s_.mime_output_conversion && (req_.flags & queue::kFlag8BitMime) &&
               !(conn_->esmtp && e.eightbitmime);
  if (conn_->esmtp && e.size_limit && body_size_ > e.size_limit) {
    SetAllOpen(ipc::DeliveryStatus::kBounced, "5.3.4",
               "message size " + std::to_string(body_size_) + " exceeds size limit " +
                   std::to_string(e.size_limit) + " of server " + conn_->peer(),
               conn_->relay());
    return Finish(false);
  }
  if (s_.send_xforward && conn_->esmtp && !conn_->xforward.empty() && w_.queue) {
    std::string cmd = XforwardCommand();
    if (!cmd.empty()) {
      auto self = shared_from_this();
      conn_->Write(cmd);
      return conn_->Expect("sending XFORWARD", s_.mail_ms, [self](Result<smtp::Reply> r) {
        if (self->finished_) return;
        if (!r) return self->ConnFailed(r.error());
        if (r->code / 100 == 2) return self->MailTransaction();
        for (size_t i = 0; i < self->results_.size(); ++i) self->SetReply(i, *r, "XFORWARD");
        self->Finish(true);
      });
    }
  }
  MailTransaction();
}

// Postfix's XFORWARD: the attributes the server named, xtext, [UNAVAILABLE]
// for what the queue does not know; SOURCE=LOCAL for mail that came in
// without a network client.
std::string Delivery::XforwardCommand() {
  auto rec = w_.queue->GetMessage(req_.message_id);
  if (!rec.ok()) {
    log::Warning("{}: XFORWARD: cannot read the message record: {}", msgid_, rec.status().message);
    return "";
  }
  auto value = [](const std::string& v) { return v.empty() ? std::string("[UNAVAILABLE]") : smtp::XtextEncode(v); };
  std::string cmd = "XFORWARD";
  for (const std::string& attr : conn_->xforward) {
    if (attr == "NAME") cmd += " NAME=" + value(rec->client_name);
    else if (attr == "ADDR") cmd += " ADDR=" + value(rec->client_addr);
    else if (attr == "PORT") cmd += " PORT=" + value(rec->client_port ? std::to_string(rec->client_port) : "");
    else if (attr == "PROTO") cmd += " PROTO=" + value(rec->protocol);
    else if (attr == "HELO") cmd += " HELO=" + value(rec->helo);
    else if (attr == "IDENT") cmd += " IDENT=" + msgid_;
    else if (attr == "SOURCE") cmd += std::string(" SOURCE=") + (rec->client_addr.empty() ? "LOCAL" : "REMOTE");
  }
  return cmd == "XFORWARD" ? "" : cmd + "\r\n";
}

void Delivery::MailTransaction() {
  const auto& e = conn_->ehlo;
  auto self = shared_from_this();
  auto expect = [self](std::string phase, uint64_t ms, std::function<void(const smtp::Reply&)> fn) {
    self->conn_->Expect(std::move(phase), ms, [self, fn](Result<smtp::Reply> r) {
      if (self->finished_) return;
      if (!r) return self->ConnFailed(r.error());
      fn(*r);
    });
  };
  if (!conn_->esmtp || !e.pipelining) {
    conn_->Write(MailCommand());
    return expect("sending MAIL FROM", s_.mail_ms, [self](const smtp::Reply& r) { self->OnMail(r); });
  }
  // RFC 2920: the whole envelope and DATA in one write; replies come in order.
  std::string out = MailCommand();
  for (size_t i = 0; i < req_.recipients.size(); ++i) out += RcptCommand(i);
  if (!probe()) out += "DATA\r\n";
  conn_->Write(std::move(out));
  expect("sending MAIL FROM", s_.mail_ms, [self](const smtp::Reply& r) { self->OnMail(r); });
  size_t last = req_.recipients.size() - 1;
  for (size_t i = 0; i < req_.recipients.size(); ++i)
    expect("sending RCPT TO", s_.rcpt_ms, [self, i, last](const smtp::Reply& r) {
      self->OnRcpt(i, r);
      if (self->probe() && i == last) self->Finish(true);  // the probe ends here: RSET, no DATA
    });
  if (probe()) return;
  expect("sending DATA command", s_.data_init_ms, [self](const smtp::Reply& r) { self->OnDataReply(r); });
}

void Delivery::OnMail(const smtp::Reply& r) {
  mail_answered_ = true;
  if (r.code / 100 != 2) {
    mail_failed_ = true;
    for (size_t i = 0; i < results_.size(); ++i) SetReply(i, r, "MAIL FROM");
    // Pipelined: the RCPT and DATA replies are still coming; OnDataReply ends it.
    if (!Pipelined(*conn_)) Finish(true);
    return;
  }
  if (!Pipelined(*conn_)) SendRcpt(0);
}

void Delivery::SendRcpt(size_t i) {
  auto self = shared_from_this();
  if (i == req_.recipients.size()) {
    if (accepted_.empty() || probe()) return Finish(true);
    conn_->Write("DATA\r\n");
    conn_->Expect("sending DATA command", s_.data_init_ms, [self](Result<smtp::Reply> r) {
      if (self->finished_) return;
      if (!r) return self->ConnFailed(r.error());
      self->OnDataReply(*r);
    });
    return;
  }
  conn_->Write(RcptCommand(i));
  conn_->Expect("sending RCPT TO", s_.rcpt_ms, [self, i](Result<smtp::Reply> r) {
    if (self->finished_) return;
    if (!r) return self->ConnFailed(r.error());
    self->OnRcpt(i, *r);
    self->SendRcpt(i + 1);
  });
}

void Delivery::OnRcpt(size_t i, const smtp::Reply& r) {
  if (mail_failed_) return;
  if (r.code / 100 == 2) {
    accepted_.push_back(i);
    // A probe's result is the RCPT reply itself, with who said it.
    if (probe()) Set(i, ipc::DeliveryStatus::kSent, ReplyDsn(r), "host " + conn_->peer() + " said: " + ReplyText(r) +
                     " (in reply to RCPT TO command)", conn_->relay());
    return;
  }
  SetReply(i, r, "RCPT TO");
}

void Delivery::OnDataReply(const smtp::Reply& r) {
  if (r.code == 354 && (mail_failed_ || accepted_.empty())) {
    // Pipelined DATA went through with nobody to deliver to: end it empty.
    auto self = shared_from_this();
    conn_->Write(".\r\n");
    conn_->Expect("sending end of data", s_.data_done_ms, [self](Result<smtp::Reply> rr) {
      if (self->finished_) return;
      if (!rr) return self->ConnFailed(rr.error());
      self->Finish(true);
    });
    return;
  }
  if (mail_failed_ || accepted_.empty()) return Finish(true);
  if (r.code != 354) {
    for (size_t i : accepted_) SetReply(i, r, "DATA");
    return Finish(true);
  }
  body_out_.emplace(s_.text_line_limit, downgrade_, s_.mime_limits, s_.checks, queue::FormatMsgId(req_.message_id));
  if (!w_.generic.empty()) {
    const Generic* g = &w_.generic;
    bool* failed = &generic_failed_;
    generic_headers_ = cleanup::HeaderEditor([g, failed](std::string* h) { g->Header(h, failed); },
                                             size_t{1} << 20);  // cleanup cut headers at header_size_limit
  }
  SendBody();
}

void Delivery::SendBody() {
  // Buffers sized to the body: a 4 KiB message must not cost a 256 KiB
  // zero-fill and a half-megabyte allocation per delivery.
  const size_t chunk = static_cast<size_t>(std::min<uint64_t>(kReadChunk, body_size_ + 1));
  std::string out;
  out.reserve(std::min(kWriteChunk, chunk) + chunk + chunk / 8 + 8);  // dots may grow a chunk a little
  if (read_buf_.size() < chunk) read_buf_.resize(chunk);
  char* buf = read_buf_.data();
  bool last = false;
  while (out.size() < kWriteChunk) {
    auto n = body_->Read(buf, chunk);
    if (!n.ok()) {
      // Mid-DATA there is no way to abort cleanly: the connection is given up.
      SetAllOpen(ipc::DeliveryStatus::kDeferred, "4.3.0", "error reading message body: " + n.status().message,
                 "none");
      conn_.reset();
      return Finish(false);
    }
    bool ok = *n == 0 ? FeedBody({}, true, &out) : FeedBody(std::string_view(buf, *n), false, &out);
    if (generic_failed_) {
      // As Postfix: a table failure mid-DATA gives the connection up; all defer.
      SetAllOpen(ipc::DeliveryStatus::kDeferred, "4.3.0", "smtp_generic_maps lookup failure", "none");
      conn_.reset();
      return Finish(false);
    }
    if (!ok) return BodyFailed(body_out_->error());
    if (*n == 0) {
      last = true;
      break;
    }
  }
  auto self = shared_from_this();
  if (s_.data_xfer_ms) {
    // The timer keeps its callback after firing: a weak reference avoids a cycle.
    std::weak_ptr<Delivery> weak = self;
    xfer_timer_.Start(s_.data_xfer_ms, 0, [weak] {
      auto d = weak.lock();
      if (!d || !d->conn_) return;
      d->ConnFailed("conversation with " + d->conn_->peer() + " timed out while sending message body");
    });
  }
  if (last && pix_delay_dot_ && queued_seconds_ >= double(s_.pix_threshold_s) && out.ends_with(".\r\n")) {
    out.resize(out.size() - 3);
    return conn_->WriteData(std::move(out), [self](int status) {
      if (status < 0) return self->OnBodyWritten(status, true);
      self->DelayedDot();
    });
  }
  conn_->WriteData(std::move(out), [self, last](int status) { self->OnBodyWritten(status, last); });
}

// Body bytes through the smtp_generic_maps header stage (when active) into body_out_.
bool Delivery::FeedBody(std::string_view in, bool last, std::string* out) {
  if (!generic_headers_.active()) return last ? body_out_->Finish(out) : body_out_->Feed(in, out);
  std::string piece(in);
  generic_headers_.Apply(&piece, 0);
  if (last) generic_headers_.Finish(&piece);
  if (!piece.empty() && !body_out_->Feed(piece, out)) return false;
  return last ? body_out_->Finish(out) : true;
}

// Postfix's delay_dotcrlf: some PIX firewalls lose a ".\r\n" that arrives in
// the same packet as the end of the content of an old (retried) message.
void Delivery::DelayedDot() {
  xfer_timer_.Stop();
  // Nothing else holds this delivery while the dot waits (no I/O is pending):
  // the hold keeps it until the timer fires (the timer keeps its callback
  // after firing, so the callback itself must not own it).
  pix_hold_ = shared_from_this();
  pix_timer_.Start(s_.pix_delay_ms ? s_.pix_delay_ms : 1, 0, [this] {
    std::shared_ptr<Delivery> d = std::move(pix_hold_);
    if (d->finished_ || !d->conn_) return;
    d->conn_->WriteData(".\r\n", [d](int status) { d->OnBodyWritten(status, true); });
  });
}

// The message cannot be converted for this server. As in Postfix there is
// no way to cancel DATA: the connection is dropped before end-of-data.
void Delivery::BodyFailed(mime::Error e) {
  auto detail = mime::Describe(e);
  SetAllOpen(ipc::DeliveryStatus::kBounced, detail.dsn, detail.text, conn_->relay());
  conn_.reset();
  Finish(false);
}

namespace {
bool Ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}
}  // namespace

Result<std::string> Delivery::Utf8Refusal() {
  std::string refusal = "SMTPUTF8 is required, but was not offered by host " + conn_->peer();
  if (!Ascii(req_.sender)) return refusal;
  for (const auto& r : req_.recipients) {
    if (!Ascii(r.address)) return refusal;
  }
  // The primary header, read from a reader of its own: body_ stays at the start.
  auto reader = OpenBody();
  if (!reader.ok()) return Err(reader.status().message);
  char buf[8192];
  bool empty_line = true;  // the current line has nothing but a CR so far
  for (;;) {
    auto n = reader->Read(buf, sizeof buf);
    if (!n.ok()) return Err(n.status().message);
    if (*n == 0) return std::string();
    for (size_t i = 0; i < *n; ++i) {
      auto c = static_cast<unsigned char>(buf[i]);
      if (c == '\n') {
        if (empty_line) return std::string();  // end of the header
        empty_line = true;
      } else if (c >= 0x80) {
        return refusal;
      } else if (c != '\r') {
        empty_line = false;
      }
    }
  }
}

void Delivery::OnBodyWritten(int status, bool last) {
  xfer_timer_.Stop();
  if (finished_) return;
  if (status < 0) return ConnFailed("lost connection with " + conn_->peer() + " while sending message body");
  if (!last) return SendBody();
  auto self = shared_from_this();
  size_t expected = s_.lmtp ? accepted_.size() : 1;
  for (size_t k = 0; k < expected; ++k) {
    conn_->Expect("sending end of data -- message may be sent more than once", s_.data_done_ms,
                  [self, k](Result<smtp::Reply> r) {
                    if (self->finished_) return;
                    if (!r) return self->ConnFailed(r.error());
                    self->OnFinalReply(k, *r);
                  });
  }
}

void Delivery::OnFinalReply(size_t k, const smtp::Reply& r) {
  if (s_.lmtp) {
    SetReply(accepted_[k], r, "end of DATA");
    if (++final_replies_ < accepted_.size()) return;
  } else {
    for (size_t i : accepted_) SetReply(i, r, "end of DATA");
  }
  Finish(false);
}

void Delivery::ConnFailed(const std::string& why) {
  if (finished_) return;
  log::Info("{}", why);
  if (reused_ && !mail_answered_) {
    // The server closed the cached connection just as it was taken: nothing
    // was said on it yet, so start again on a fresh one. Dropping it inside
    // its own callback is allowed, and silences its other waiters.
    reused_ = ready_ = false;
    conn_.reset();
    accepted_.clear();
    mail_failed_ = false;
    return Resolve();
  }
  std::string relay = conn_ ? conn_->relay() : "none";
  SetAllOpen(ipc::DeliveryStatus::kDeferred, "4.4.2", why, relay);
  conn_.reset();  // a connection that failed once is never used again
  Finish(false);
}

}  // namespace postern::smtp_client
