// smtpd/session.cc — the connection side of a session: greeting, reading and
// splitting commands, batching replies into one write, timeouts, error
// limits, and the disconnect line; plus the process-wide Service.
#include "smtpd/session.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "postern/ipc/trigger.h"
#include "postern/log/log.h"
#include "postern/smtp/reply.h"
#include "postern/stats/keys.h"
#include "postern/stats/recorder.h"
#include "postern/util/strings.h"

namespace postern::smtpd {

namespace {

constexpr size_t kMaxQueuedOutput = 256 * 1024;  // stop reading a client that does not read
constexpr size_t kMaxQueuedInput = 256 * 1024;   // pipelined input held while a commit runs
constexpr size_t kKeepCapacity = 1024;           // idle buffers above this are given back

// Postfix's order of the per-command counters in the disconnect line.
constexpr smtp::Verb kCountOrder[] = {
    smtp::Verb::kHelo, smtp::Verb::kEhlo, smtp::Verb::kStarttls, smtp::Verb::kAuth,
    smtp::Verb::kMail, smtp::Verb::kRcpt, smtp::Verb::kData, smtp::Verb::kBdat,
    smtp::Verb::kRset, smtp::Verb::kNoop, smtp::Verb::kVrfy, smtp::Verb::kEtrn,
    smtp::Verb::kQuit, smtp::Verb::kHelp, smtp::Verb::kExpn, smtp::Verb::kLhlo,
    smtp::Verb::kUnknown,
};

void ShrinkIdle(std::string* s) {
  if (s->empty() && s->capacity() > kKeepCapacity) std::string().swap(*s);
}

}  // namespace

// --- Service -------------------------------------------------------------

Service::Service(server::Context& ctx, Settings settings, std::unique_ptr<Policy> policy,
                 std::unique_ptr<queue::Queue> queue, std::unique_ptr<cleanup::Cleanup> cleanup)
    : loop_(ctx.loop),
      service_name_(ctx.service),
      settings_(std::move(settings)),
      policy_(std::move(policy)),
      queue_(std::move(queue)),
      cleanup_(std::move(cleanup)),
      policy_clients_(ctx.loop),
      compatibility_level_(ctx.config.Str("compatibility_level")),
      mail_version_(ctx.config.Str("mail_version")),
      reader_check_(queue_.get(), ctx.loop),
      reaper_(ctx.loop),
      guard_(ctx.loop, ctx.config) {
  hold_ = ctx.hold;
  cleanup_->content_options() = settings_.cleanup;
  cleanup_->UseGroupCommit(ctx.loop);  // one qmgr wake-up per group commit
  if (settings_.save_rejected)
    quarantine_ = std::make_unique<queue::Quarantine>(settings_.queue_directory, *settings_.save_rejected);
}

void Service::Accept(server::Client c) {
  // smtpd_drop_clients (Plan 9's -k): closed before a word, and no log line.
  if (guard_.Drop(settings_.abuse, PeerAddress(c.stream->fd()))) {
    stats::Count("smtp.session.dropped");
    return;
  }
  auto s = std::make_shared<Session>(this, std::move(c));
  sessions_.emplace(s.get(), s);
  s->Start();
}

void Service::RemoveClient(const std::string& addr) {
  auto it = per_addr_.find(addr);
  if (it != per_addr_.end() && --it->second <= 0) per_addr_.erase(it);
}

void Service::Retire(Session* s) {
  auto it = sessions_.find(s);
  if (it == sessions_.end()) return;
  retired_.push_back(std::move(it->second));
  sessions_.erase(it);
  if (!reaper_.active()) reaper_.Start(0, 0, [this] { retired_.clear(); });
}

// --- Session: connection -------------------------------------------------

Session::Session(Service* svc, server::Client c)
    : svc_(svc),
      stream_(std::make_unique<tls::Stream>(svc->loop(), std::move(c.stream))),
      lease_(std::move(c.lease)),
      timer_(svc->loop()),
      reader_(svc->settings().line_length_limit) {}

Session::~Session() {
  if (counted_) svc_->RemoveClient(client_addr_);
  if (anvil_counted_) svc_->guard().Disconnect(client_addr_);
  AuthDovecotForget();
}

void Session::Start() {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(stream_->fd(), reinterpret_cast<sockaddr*>(&ss), &len) == 0 && ss.ss_family != AF_UNIX) {
    client_addr_ = SockAddrText(ss);
    client_port_ = ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
    len = sizeof ss;
    if (getsockname(stream_->fd(), reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
      local_addr_ = SockAddrText(ss);
      // sin_port and sin6_port sit at the same offset.
      local_port_ = ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
    }
  } else {
    // Local submission over a unix socket: Postfix's name for it.
    client_name_ = reverse_name_ = "localhost";
    name_status_ = reverse_status_ = NameStatus::kOk;
    client_addr_ = "127.0.0.1";
    // The kernel says who is submitting (sendmail's user); logged per message.
    ucred cred{};
    socklen_t clen = sizeof cred;
    if (getsockopt(stream_->fd(), SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0) local_uid_ = unsigned(cred.uid);
  }
  // The banner goes out at once; commands wait for the name (Process).
  if (!local_addr_.empty() && svc_->settings().peername_lookup) StartNameLookup();
  else LogConnect();
  entry_.Started(local_addr_.empty(), [this] {  // kill session ID
    auto self = shared_from_this();
    if (closing_ || finished_) return;
    Reply(421, "4.7.0", svc_->settings().myhostname + " Error: session killed by administrator");
    CloseAfterFlush();
  });
  counted_ = true;
  svc_->AddClient(client_addr_);  // {client_connections} of the milters
  if (!AdmitConnection()) return;
  MilterConnect();  // session_milter.cc: greets when the milters have seen the connection
}

void Session::Greet() {
  if (StartWrapperTls()) return;  // the banner comes after the handshake
  if (DelayGreeting()) return;    // session_abuse.cc
  SendGreeting();
}

void Session::ResumeReading() {
  if (reading_ || closing_ || !stream_) return;
  reading_ = true;
  stream_->ReadStart([this](std::string_view d) { OnRead(d); }, [this](int st) { OnEnd(st); });
}

void Session::PauseReading() {
  if (!reading_ || !stream_) return;
  reading_ = false;
  stream_->ReadStop();
}

void Session::OnRead(std::string_view data) {
  if (closing_) return;
  entry_.Read(data.size());
  if (greeting_pending_) return EarlyTalker(data);
  reader_.Feed(data);
  // Partial bytes do not restart the command timer (slowloris); content does.
  if (phase_ == Phase::kData || phase_ == Phase::kBdat) ArmTimeout();
  Process();
  Flush();
  size_t pending = reader_.pending();
  if (pending > kMaxQueuedInput || (stream_ && stream_->write_queue_size() > kMaxQueuedOutput)) PauseReading();
}

void Session::OnEnd(int) {
  if (finished_) return;
  Finish(!closing_);
}

// Runs commands and content from the reader until more input is needed or
// the session must wait (a commit, an error delay, closing).
void Session::Process() {
  auto self = shared_from_this();  // a command may finish the session
  while (!closing_ && !paused_ && !naming_) {
    if (phase_ == Phase::kCommitting || phase_ == Phase::kMilter) break;
    size_t avail = reader_.pending();
    if (phase_ == Phase::kData) {
      if (avail == 0) break;
      FeedData();
      continue;
    }
    if (phase_ == Phase::kBdat) {
      if (avail == 0 && bdat_left_ > 0) break;
      FeedBdat();
      continue;
    }
    if (!NextLine()) break;
  }
  reader_.Trim();
}

bool Session::NextLine() {
  const Settings& st = svc_->settings();
  smtp::CommandReader::Line line;
  if (!reader_.Next(&line)) return false;
  if (line.too_long) {
    ChatIn(line.text);
    ++total_[size_t(smtp::Verb::kUnknown)];
    last_verb_ = smtp::Verb::kUnknown;
    Reply(500, "5.5.2", "Error: line too long");
  } else if (line.bare_lf && BareLfMode() == smtp::BareLf::kReject) {
    ChatIn(line.text);
    ++total_[size_t(smtp::Verb::kUnknown)];
    Reply(550, "5.5.2", "Error: bare <LF> received");
  } else {
    Command(line.text);
  }
  if (phase_ == Phase::kCommand && !closing_) ArmTimeout();
  if (!closing_ && errors_ >= st.hard_error_limit) {
    log::Info("too many errors after {} from {}", smtp::VerbName(last_verb_), Who());
    reason_ = "too many errors";
    ReplyAs(notify::kClassProtocol, 421, "4.7.0", st.myhostname + " Error: too many errors");
    CloseAfterFlush();
  }
  return true;
}

void Session::Command(std::string_view line) {
  if (auth_.in_exchange()) {  // a SASL response, not a command
    ChatIn("(SASL response)");
    return AuthResponse(line);
  }
  if (smtp::ContainsNul(line)) {
    ChatIn(line);
    ++total_[size_t(smtp::Verb::kUnknown)];
    last_verb_ = smtp::Verb::kUnknown;
    log::Warning("NUL character in command from {}", Who());
    Reply(500, "5.5.2", "Error: bad syntax");
    return;
  }
  smtp::Command c = smtp::ParseCommand(line);
  if (c.verb == smtp::Verb::kAuth)
    ChatAuthIn(line, c.arg);
  else
    ChatIn(line);
  entry_.Command(smtp::VerbName(c.verb), line);
  any_command_ = true;
  last_verb_ = c.verb;
  ++total_[size_t(c.verb)];
  last_code_ = 0;
  NotePipelining(c.verb);  // session_data_check.cc
  using V = smtp::Verb;
  switch (c.verb) {
    case V::kHelo: Helo(c.arg, false); break;
    case V::kEhlo: Helo(c.arg, true); break;
    case V::kMail: Mail(c.arg); break;
    case V::kRcpt: Rcpt(c.arg); break;
    case V::kData: Data(c.arg); break;
    case V::kBdat: Bdat(c.arg); break;
    case V::kRset: Rset(c.arg); break;
    case V::kNoop: Reply(250, "2.0.0", "Ok"); break;
    case V::kVrfy: Vrfy(c.arg); break;
    case V::kHelp:
      Reply(214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP VRFY HELP QUIT");
      break;
    case V::kQuit:
      Reply(221, "2.0.0", "Bye");
      CloseAfterFlush();
      break;
    case V::kStarttls: Starttls(c.arg); break;
    case V::kAuth: Auth(c.arg); break;
    default: Unknown(line); break;
  }
  // BDAT counts once its chunk is in (see EndBdatChunk); DATA once committed.
  if (c.verb != V::kBdat && c.verb != V::kData && last_code_ > 0 && last_code_ < 400) ++ok_[size_t(c.verb)];
}

void Session::ReplyAs(unsigned error_class, int code, std::string_view enhanced, std::string_view text) {
  reply_class_ = error_class;
  Reply(code, enhanced, text);
}

void Session::Reply(int code, std::string_view enhanced, std::string_view text) {
  error_mask_ |= reply_class_ ? *reply_class_ : ErrorClass(code, enhanced);
  reply_class_.reset();
  last_code_ = code;
  entry_.Reply(code, enhanced, text);
  smtp::AppendReply(&out_, code, enhanced, text);
  if (code < 400) return;
  const Settings& st = svc_->settings();
  // Past the soft limit every error reply waits (tarpit), as Postfix sleeps.
  if (errors_++ >= st.soft_error_limit && st.error_sleep_ms > 0 && !closing_ && code != 421) {
    paused_ = true;
    timer_.Start(st.error_sleep_ms, 0, [this] {
      paused_ = false;
      auto self = shared_from_this();
      Flush();
      ArmTimeout();
      Process();
      Flush();
      ResumeReading();
    });
  }
}

void Session::Flush() {
  if (out_.empty() || !stream_ || paused_) return;
  ChatOut();
  entry_.Wrote(out_.size());
  stream_->Write(std::move(out_), [this](int status) {
    if (status < 0 && !finished_) {
      Finish(true);
      return;
    }
    if (!closing_ && phase_ != Phase::kCommitting && phase_ != Phase::kMilter && !paused_ &&
        stream_->write_queue_size() == 0)
      ResumeReading();
  });
  out_.clear();
  chat_out_mark_ = 0;
  ShrinkIdle(&out_);
}

void Session::ArmTimeout() {
  if (paused_) return;  // the error delay owns the timer for now
  timer_.Start(svc_->settings().timeout_ms, 0, [this] { OnTimeout(); });
}

void Session::OnTimeout() {
  if (closing_) {
    Finish(true);  // the client does not even read our last reply
    return;
  }
  log::Info("timeout after {} from {}", any_command_ ? smtp::VerbName(last_verb_) : "CONNECT", Who());
  reason_ = "timeout";
  Reply(421, "4.4.2", svc_->settings().myhostname + " Error: timeout exceeded");
  CloseAfterFlush();
}

void Session::CloseAfterFlush() {
  closing_ = true;
  paused_ = false;
  PauseReading();
  if (!stream_) return;
  ChatOut();
  stream_->Write(
      std::move(out_),
      [this](int) {
        if (!finished_) Finish(false);
      },
      true);
  out_.clear();
  chat_out_mark_ = 0;
  // A client that never reads must not hold the session.
  timer_.Start(svc_->settings().timeout_ms, 0, [this] { OnTimeout(); });
}

void Session::Finish(bool lost) {
  if (finished_) return;
  finished_ = true;
  auto self = shared_from_this();
  name_lookup_.Cancel();
  LogConnect();  // a client that left before its name was known
  if (lost)
    log::Info("lost connection after {} from {}", any_command_ ? smtp::VerbName(last_verb_) : "CONNECT", Who());
  log::Info("disconnect from {}{}", Who(), DisconnectCounts());
  if (lost && reason_.empty()) reason_ = "lost connection";
  ChatReset(0);
  timer_.Stop();
  stream_.reset();
  if (milters_) milters_->Quit();
  // An unfinished message leaves nothing behind: its writer removes the body.
  if (phase_ != Phase::kCommitting) txn_.reset();
  svc_->Retire(this);
}

std::string Session::DisconnectCounts() const {
  std::string s;
  uint32_t ok = 0, total = 0;
  for (smtp::Verb v : kCountOrder) {
    size_t i = size_t(v);
    if (total_[i] == 0) continue;
    ok += ok_[i];
    total += total_[i];
    std::string name = ToLower(smtp::VerbName(v));
    s += " " + name + "=" + std::to_string(ok_[i]);
    if (ok_[i] != total_[i]) s += "/" + std::to_string(total_[i]);
  }
  s += " commands=" + std::to_string(ok);
  if (ok != total) s += "/" + std::to_string(total);
  return s;
}

void Session::AfterWait() {
  auto self = shared_from_this();  // Process may finish the session
  Flush();
  // A check at the end of data may have handed the message on: the queue or the milters answer next.
  if (paused_ || closing_ || phase_ == Phase::kCommitting || phase_ == Phase::kMilter) return;
  ArmTimeout();
  Process();
  Flush();
  ResumeReading();
}

void Session::LogReject(std::string_view stage, int code, std::string_view enh, std::string_view text,
                        std::string_view rcpt) {
  LogAction("reject", stage, fmt::format("{} {} {}", code, enh, text), rcpt);
  stats::Count(stats::RejectKey(stage, code, enh));
  if (stage == "RCPT" && !rcpt.empty()) svc_->settings().inbound.Rejected(rcpt);
}

// Postfix's log_whatsup: "NOQUEUE: reject: RCPT from host[addr]: 550 5.1.1
// <...>: ...; from=<...> to=<...> proto=ESMTP helo=<...>", and hold, warn, ...
void Session::LogAction(std::string_view action, std::string_view stage, std::string_view text,
                        std::string_view rcpt) {
  std::string id = "NOQUEUE";
  if (txn_ && txn_->content && txn_->content->message) id = queue::FormatMsgId(txn_->content->message->id());
  std::string line = fmt::format("{}: {}: {} from {}: {};", id, action, stage, Who(), text);
  if (txn_) line += " from=<" + txn_->sender.Canonical() + ">";
  if (!rcpt.empty()) line += " to=<" + std::string(rcpt) + ">";
  line += esmtp_ ? " proto=ESMTP" : " proto=SMTP";
  if (!helo_.empty()) line += " helo=<" + helo_ + ">";
  log::Info("{}", line);
}

}  // namespace postern::smtpd
