// milter/milters.cc — events through the session's milters one after the
// other, and the message through each milter in turn; see milters.h.
#include "postern/milter/milters.h"

#include <algorithm>
#include <optional>

namespace postern::milter {

struct Milters::Run {
  Event ev;
  size_t next = 0;
  Outcome acc;  // quarantine requests of the milters so far
  Done done;
};

struct Milters::ContentRun {
  size_t milter = 0;
  Message* m = nullptr;
  EnvelopeEdits* env = nullptr;
  enum class Phase { kStart, kHeaders, kEoh, kBody, kEob, kDone } phase = Phase::kStart;
  size_t header = 0, body_off = 0;
  std::string quarantine;
  Done done;
};

Milters::Milters(uv_loop_t* loop, std::shared_ptr<const Settings> settings, const std::vector<Spec>& specs,
                 Client::MacroFn macros)
    : loop_(loop), settings_(std::move(settings)), macros_(std::move(macros)) {
  for (const Spec& s : specs) clients_.push_back(std::make_unique<Client>(loop, s));
}

const std::vector<std::string>& Milters::Names(Stage s) const {
  return s == kUnknownStage ? settings_->unknown_macros : settings_->macros[size_t(s)];
}

void Milters::Connect(std::string host, char family, uint16_t port, std::string addr, Done done) {
  auto left = std::make_shared<size_t>(clients_.size());
  auto ev = std::make_shared<Event>();
  ev->code = cmd::kConnect;
  ev->packet = milter::Connect(host, family, port, addr);
  ev->no_send = kNoConnect;
  ev->no_reply = kNrConn;
  ev->stage = Stage::kConnect;
  ev->has_macros = true;
  auto shared_done = std::make_shared<Done>(std::move(done));
  if (clients_.empty()) return (*shared_done)({});
  for (auto& c : clients_) {
    c->Open([this, left, ev, shared_done] {
      if (--*left == 0) Each(*ev, std::move(*shared_done));
    });
  }
}

void Milters::Helo(const std::string& name, Done done) {
  Each({cmd::kHelo, milter::Helo(name), kNoHelo, kNrHelo, Stage::kHelo, true, false}, std::move(done));
}

void Milters::Mail(const std::vector<std::string>& args, Done done) {
  Each({cmd::kMail, Envelope(cmd::kMail, args), kNoMail, kNrMail, Stage::kMail, true, false}, std::move(done));
}

void Milters::Rcpt(const std::vector<std::string>& args, Done done) {
  Each({cmd::kRcpt, Envelope(cmd::kRcpt, args), kNoRcpt, kNrRcpt, Stage::kRcpt, true, false}, std::move(done));
}

void Milters::Data(Done done) {
  Each({cmd::kData, Bare(cmd::kData), kNoData, kNrData, Stage::kData, true, false}, std::move(done));
}

void Milters::Unknown(const std::string& line, Done done) {
  std::string d = line;
  d.push_back('\0');
  Each({cmd::kUnknown, Frame(cmd::kUnknown, d), kNoUnknown, kNrUnkn, kUnknownStage, true, false}, std::move(done));
}

void Milters::Each(Event ev, Done done) {
  auto run = std::make_shared<Run>();
  run->ev = std::move(ev);
  run->done = std::move(done);
  Step(std::move(run));
}

void Milters::Step(std::shared_ptr<Run> run) {
  if (run->next == clients_.size()) return run->done(std::move(run->acc));
  Client& c = *clients_[run->next++];
  c.Send(run->ev, Names(run->ev.stage), macros_, [this, run](Outcome o) {
    if (!o.quarantine.empty()) run->acc.quarantine = o.quarantine;
    if (o.final()) {
      if (o.quarantine.empty()) o.quarantine = run->acc.quarantine;
      return run->done(std::move(o));
    }
    Step(run);
  });
}

void Milters::Content(Message* m, EnvelopeEdits* env, Done done) {
  auto run = std::make_shared<ContentRun>();
  run->m = m;
  run->env = env;
  run->done = std::move(done);
  ContentStep(std::move(run));
}

// The next event of the message for the current milter; false after EOB.
bool Milters::NextContentEvent(ContentRun& r, Event* ev) {
  using P = ContentRun::Phase;
  bool lead = clients_[r.milter]->protocol() & kHdrLeadSpc;
  if (r.phase == P::kStart) r.phase = P::kHeaders;
  if (r.phase == P::kHeaders) {
    if (r.header < r.m->headers.size()) {
      const HeaderField& h = r.m->headers[r.header++];
      *ev = {cmd::kHeader, Header(h.name, Message::SentValue(h, lead)), kNoHdrs, kNrHdr, Stage::kEoh, false, true};
      return true;
    }
    r.phase = P::kEoh;
  }
  if (r.phase == P::kEoh) {
    r.phase = P::kBody;
    *ev = {cmd::kEoh, Bare(cmd::kEoh), kNoEoh, kNrEoh, Stage::kEoh, true, true};
    return true;
  }
  if (r.phase == P::kBody) {
    if (r.body_off < r.m->body.size()) {
      size_t n = std::min(kChunk, r.m->body.size() - r.body_off);
      *ev = {cmd::kBody, Body(std::string_view(r.m->body).substr(r.body_off, n)), kNoBody, kNrBody, Stage::kEom,
             false, true};
      r.body_off += n;
      return true;
    }
    r.phase = P::kEob;
  }
  if (r.phase == P::kEob) {
    r.phase = P::kDone;
    *ev = {cmd::kBodyEob, Bare(cmd::kBodyEob), 0, 0, Stage::kEom, true, true};
    return true;
  }
  return false;
}

// Iterative: a milter that answers nothing (SMFIP_NR_HDR, an accepted
// message) completes events at once, and a message may have many headers.
void Milters::ContentStep(std::shared_ptr<ContentRun> run) {
  for (;;) {
    while (run->milter < clients_.size() && !clients_[run->milter]->usable() &&
           run->phase == ContentRun::Phase::kStart) {
      // A failed milter still answers with its default action (tempfail, reject, quarantine).
      Outcome o;
      clients_[run->milter]->Send({cmd::kBodyEob, {}, 0, 0, Stage::kEom, false, true}, {}, macros_,
                                  [&o](Outcome x) { o = std::move(x); });
      if (!o.quarantine.empty()) run->quarantine = o.quarantine;
      if (o.final()) {
        if (o.quarantine.empty()) o.quarantine = run->quarantine;
        return run->done(std::move(o));
      }
      ++run->milter;
    }
    if (run->milter == clients_.size()) {
      Outcome o;
      o.quarantine = run->quarantine;
      return run->done(std::move(o));
    }
    Event ev;
    NextContentEvent(*run, &ev);
    Client* c = clients_[run->milter].get();
    auto inside = std::make_shared<bool>(true);
    auto now = std::make_shared<std::optional<Outcome>>();
    c->Send(ev, Names(ev.stage), macros_, [this, run, c, inside, now](Outcome o) {
      if (*inside) {
        *now = std::move(o);  // answered at once: the loop below carries on
        return;
      }
      if (ContentReply(*run, *c, std::move(o))) ContentStep(run);
    });
    *inside = false;
    if (!*now || !ContentReply(*run, *c, std::move(**now))) return;
  }
}

bool Milters::ContentReply(ContentRun& run, const Client& c, Outcome o) {
  if (!o.quarantine.empty()) run.quarantine = o.quarantine;
  if (o.final()) {
    if (o.quarantine.empty()) o.quarantine = run.quarantine;
    run.done(std::move(o));
    return false;
  }
  if (run.phase == ContentRun::Phase::kDone) {
    ApplyEdits(o.edits, c.protocol() & kHdrLeadSpc, run.m, run.env);
    ++run.milter;
    run.phase = ContentRun::Phase::kStart;
    run.header = run.body_off = 0;
  }
  return true;
}

void Milters::Abort() {
  for (auto& c : clients_) c->Abort();
}

void Milters::Quit() {
  for (auto& c : clients_) c->Quit();
}

}  // namespace postern::milter
