// milter/client.cc — the MTA side of one milter conversation (Postfix's
// milter8.c, event-driven): replies, timeouts and errors map to Postfix's
// replies and log lines; see client.h.
#include "postern/milter/client.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>

#include "postern/log/log.h"
#include "postern/util/strings.h"

namespace postern::milter {

namespace {

constexpr const char* kTempfailText = "451 4.7.1 Service unavailable - try again later";
constexpr const char* kRejectText = "550 5.7.1 Command rejected";

bool InConnect(char e) { return e == cmd::kConnect || e == cmd::kHelo; }

}  // namespace

Client::Client(uv_loop_t* loop, const Spec& spec) : loop_(loop), spec_(spec), connector_(loop), timer_(loop) {}

Client::~Client() { connector_.Cancel(); }

const std::string* Client::MacroOverride(Stage s) const {
  auto it = neg_.macros.find(s);
  return it == neg_.macros.end() ? nullptr : &it->second;
}

bool Client::usable() const {
  return state_ != State::kError && state_ != State::kClosed && state_ != State::kAcceptCon &&
         state_ != State::kRejectCon;
}

void Client::Open(std::function<void()> done) {
  open_done_ = std::move(done);
  auto cb = [this](Result<std::unique_ptr<event::Stream>> s) { OnConnected(std::move(s)); };
  if (StartsWith(spec_.endpoint, "unix:")) return connector_.Unix(spec_.endpoint.substr(5), spec_.connect_timeout_ms, cb);
  auto t = net::ResolveHostPort(std::string_view(spec_.endpoint).substr(5));
  if (!t) return OnConnected(Err(t.error()));
  connector_.Tcp(t->first, t->second, nullptr, spec_.connect_timeout_ms, cb);
}

void Client::OnConnected(Result<std::unique_ptr<event::Stream>> s) {
  if (!s) {
    log::Warning("connect to Milter service {}: {}", spec_.name, s.error());
    CommError("");
    auto done = std::move(open_done_);
    return done();
  }
  stream_ = std::move(*s);
  // Request and reply, packet by packet: Nagle's delay would stall every
  // event that is written in pieces or not answered (Postfix tweaks TCP too).
  int one = 1;
  if (StartsWith(spec_.endpoint, "inet:")) (void)setsockopt(stream_->fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  stream_->ReadStart([this](std::string_view d) { OnData(d); }, [this](int st) { OnEnd(st); });
  stream_->Write(Optneg(spec_.version, kAllActions, spec_.events));
  Wait(cmd::kOptneg, spec_.command_timeout_ms);
}

void Client::Wait(char event, uint64_t timeout_ms) {
  waiting_ = event;
  wait_ms_ = timeout_ms;
  timer_.Start(timeout_ms, 0, [this] {
    CommError(fmt::format("can't read {} reply packet header: Connection timed out", CommandName(waiting_)));
  });
}

void Client::OnData(std::string_view data) {
  reader_.Feed(data);
  Packet p;
  std::string why;
  while (waiting_ && stream_) {
    auto st = reader_.Next(&p, &why);
    if (st == PacketReader::Status::kMore) return;
    if (st == PacketReader::Status::kError) return CommError(why);
    OnPacket(std::move(p));
  }
  // Bytes nobody asked for: the filter is out of step.
  if (stream_ && !waiting_ && reader_.pending() > 0) CommError("unexpected data from filter");
}

void Client::OnEnd(int status) {
  std::string why = status == UV_EOF ? "end of file" : uv_strerror(status);
  if (waiting_) return CommError(fmt::format("can't read {} reply packet header: {}", CommandName(waiting_), why));
  // The filter went away between events: the next ones get the default action.
  CommError("connection closed by filter: " + why);
}

void Client::OnPacket(Packet p) {
  if (waiting_ == cmd::kOptneg) return OnOptneg(p);
  OnReply(std::move(p));
}

void Client::OnOptneg(const Packet& p) {
  timer_.Stop();
  waiting_ = 0;
  auto n = ParseOptneg(p);
  std::string err;
  if (!n) err = n.error();
  else if (n->version > spec_.version)
    err = fmt::format("protocol version {} conflict with MTA protocol version {}", n->version, spec_.version);
  else if ((n->actions & kAllActions) != n->actions)
    err = fmt::format("request mask 0x{:x} conflict with MTA request mask 0x{:x}", n->actions, kAllActions);
  if (!err.empty()) {
    CommError(err);
  } else {
    neg_ = std::move(*n);
    ev_mask_ = neg_.protocol;
    np_mask_ = kNoSendMask & ~spec_.events;
    // An older filter gets only the events of its version.
    if (neg_.version < 6) np_mask_ |= kNoSendMask & ~(neg_.version >= 4 ? kV4Events : kV2Events);
    state_ = State::kReady;
  }
  auto done = std::move(open_done_);
  if (done) done();
}

Outcome Client::Default() const {
  Outcome o;
  if (!def_quarantine_.empty()) o.quarantine = def_quarantine_;
  if (def_discard_) o.kind = Outcome::Kind::kDiscard;
  if (def_reply_ == "S") o.kind = Outcome::Kind::kShutdown;
  else if (!def_reply_.empty()) o = {Outcome::Kind::kReply, def_reply_, o.quarantine, {}};
  return o;
}

void Client::Send(const Event& ev, const std::vector<std::string>& stage_macros, const MacroFn& macros, Done done) {
  if (state_ == State::kError || state_ == State::kClosed || state_ == State::kRejectCon) return done(Default());
  if (state_ == State::kAcceptCon) return done({});
  bool envelope = ev.code == cmd::kMail || ev.code == cmd::kConnect || ev.code == cmd::kHelo;
  if (state_ == State::kAcceptMsg && !envelope) return done({});
  if (ev.code == cmd::kMail) state_ = State::kEnvelope;
  if (ev.code == cmd::kData || ev.content) state_ = State::kMessage;
  if (ev.no_send & np_mask_) return done({});
  if (skip_event_ == ev.code) return done({});
  skip_event_ = 0;
  std::string out;  // the macros and the event in one write
  if (ev.has_macros) {
    const std::string* over = MacroOverride(ev.stage);
    MacroValues values = macros(over ? SplitList(*over, ", \t") : stage_macros);
    if (!values.empty()) out = Macros(ev.code, values);
  }
  if (!(ev.no_send & ev_mask_)) out += ev.packet;
  if (!out.empty()) stream_->Write(std::move(out));
  if (ev.no_send & ev_mask_) return done({});
  if (ev.no_reply & ev_mask_) return done({});
  pending_ = {};
  done_ = std::move(done);
  Wait(ev.code, ev.content ? spec_.content_timeout_ms : spec_.command_timeout_ms);
}

void Client::Finish(Outcome o) {
  timer_.Stop();
  waiting_ = 0;
  Done done = std::move(done_);
  done_ = nullptr;
  if (done) done(std::move(o));  // may destroy this client
}

void Client::OnReply(Packet p) {
  char ev = waiting_;
  bool empty = p.data.empty();
  Outcome o = std::move(pending_);
  pending_ = {};
  switch (p.code) {
    case rep::kProgress:
      if (!empty) break;
      pending_ = std::move(o);
      timer_.Start(wait_ms_, 0, [this] {
        CommError(fmt::format("can't read {} reply packet header: Connection timed out", CommandName(waiting_)));
      });
      return;
    case rep::kContinue:
      if (!empty) break;
      return Finish(std::move(o));
    case rep::kAccept:
      if (!empty) break;
      if (InConnect(ev)) {
        Close();
        state_ = State::kAcceptCon;
      } else {
        state_ = State::kAcceptMsg;
      }
      return Finish(std::move(o));
    case rep::kDiscard:
      if (!empty) break;
      if (InConnect(ev)) {
        log::Warning("milter {}: DISCARD action is not allowed for connect or helo", spec_.name);
        return Finish(std::move(o));
      }
      state_ = State::kAcceptMsg;
      o.kind = Outcome::Kind::kDiscard;
      return Finish(std::move(o));
    case rep::kReject:
    case rep::kTempfail:
    case rep::kShutdown: {
      if (!empty) break;
      std::string text = p.code == rep::kReject ? kRejectText : p.code == rep::kTempfail ? kTempfailText : "S";
      if (InConnect(ev) || p.code == rep::kShutdown) {
        Close();
        state_ = State::kRejectCon;
        def_reply_ = text;
      }
      o.kind = p.code == rep::kShutdown ? Outcome::Kind::kShutdown : Outcome::Kind::kReply;
      o.reply = p.code == rep::kShutdown ? "" : text;
      return Finish(std::move(o));
    }
    case rep::kReplyCode: {
      auto r = ParseReplyCode(p);
      if (!r) {
        ConfError(r.error());
        return Finish(Default());
      }
      if (InConnect(ev)) {
        Close();
        state_ = State::kRejectCon;
        def_reply_ = *r;
      }
      return Finish({Outcome::Kind::kReply, *r, o.quarantine, {}});
    }
    case rep::kQuarantine: {
      std::string reason = p.data.substr(0, std::min<size_t>(p.data.size(), 100));
      while (!reason.empty() && reason.back() == '\0') reason.pop_back();
      o.quarantine = reason.empty() ? "milter" : reason;
      pending_ = std::move(o);
      return;
    }
    case rep::kSkip:
      if (!empty) break;
      skip_event_ = ev;
      return Finish(std::move(o));
    default:
      pending_ = std::move(o);
      if (ev == cmd::kBodyEob && OnEdit(std::move(p))) return;
      if (!waiting_) return;  // OnEdit failed: CommError/ConfError answered already
      CommError(fmt::format("unexpected filter response {} after event {}", ReplyName(p.code), CommandName(ev)));
      return;
  }
  CommError(fmt::format("reply {} was followed by {} data bytes", ReplyName(p.code), p.data.size()));
}

// A modification at end of message; false when p is no edit at all.
bool Client::OnEdit(Packet p) {
  char code = p.code;
  bool edit = code == rep::kAddHeader || code == rep::kChgHeader || code == rep::kInsHeader || code == rep::kAddRcpt ||
              code == rep::kAddRcptPar || code == rep::kDelRcpt || code == rep::kChgFrom || code == rep::kReplBody;
  if (!edit) return false;
  auto e = ParseEdit(p);
  if (!e) {
    CommError(e.error());
    return true;
  }
  if ((code == rep::kChgHeader || code == rep::kAddHeader || code == rep::kInsHeader) && e->name.empty()) {
    ConfError("null change header name");
    Finish(Default());
    return true;
  }
  // Body replacement may not be interleaved with other edits (as in Postfix).
  auto& edits = pending_.edits;
  if (code == rep::kReplBody && !edits.empty() && edits.back().code != rep::kReplBody &&
      std::any_of(edits.begin(), edits.end(), [](const Edit& x) { return x.code == rep::kReplBody; })) {
    ConfError("body replacement requests can't currently be mixed with other requests");
    Finish(Default());
    return true;
  }
  edits.push_back(std::move(*e));
  return true;
}

void Client::CommError(const std::string& why) {
  if (!why.empty()) log::Warning("milter {}: {}", spec_.name, why);
  Close();
  state_ = State::kError;
  def_reply_.clear();
  switch (spec_.default_action) {
    case DefaultAction::kAccept: break;
    case DefaultAction::kReject: def_reply_ = "550 5.5.0 Service unavailable"; break;
    case DefaultAction::kTempfail: def_reply_ = kTempfailText; break;
    case DefaultAction::kQuarantine: def_quarantine_ = "default_action"; break;
  }
  char was = waiting_;
  waiting_ = 0;
  if (was == cmd::kOptneg) {
    auto done = std::move(open_done_);
    if (done) done();
  } else if (was) {
    Finish(Default());
  }
}

void Client::ConfError(const std::string& why) {
  log::Warning("milter {}: {}", spec_.name, why);
  Close();
  state_ = State::kError;
  def_reply_.clear();
  if (spec_.default_action == DefaultAction::kQuarantine) def_quarantine_ = "default_action";
  else if (spec_.default_action != DefaultAction::kAccept) def_reply_ = "451 4.3.5 Server configuration problem - try again later";
}

void Client::Close() {
  timer_.Stop();
  connector_.Cancel();
  stream_.reset();
}

void Client::Abort() {
  if (stream_ && (state_ == State::kEnvelope || state_ == State::kMessage || state_ == State::kAcceptMsg)) {
    stream_->Write(Bare(cmd::kAbort));
    state_ = State::kEnvelope;
  }
  skip_event_ = 0;
  if (state_ == State::kAcceptMsg) state_ = State::kEnvelope;
}

void Client::Quit() {
  if (stream_) stream_->Write(Bare(cmd::kQuit));
  Close();
  if (state_ != State::kError) state_ = State::kClosed;
}

}  // namespace postern::milter
