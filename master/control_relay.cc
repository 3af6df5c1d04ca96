// master/control_relay.cc — master's links to its workers and the relay
// handlers that forward a ctl request to qmgr or to every worker of a kind,
// streaming the answers back with backpressure. See ipc/control.h.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "master/control.h"
#include "postern/log/log.h"

namespace postern::master {

namespace ctlproto = ipc::control;

namespace {

// control_timeout from main.cf, or as `set option` made it (master's own parameter).
std::chrono::seconds ControlTimeout() {
  const auto& opts = TheControl().state().options;
  if (auto it = opts.find("control_timeout"); it != opts.end()) {
    config::Config c = TheControl().config();
    c.Override("control_timeout", it->second);
    if (auto t = c.GetTime("control_timeout")) return *t;
  }
  return TheControl().config().Time("control_timeout");
}

}  // namespace

std::shared_ptr<WorkerLink> WorkerLink::Open(uv_loop_t* loop, Fd fd, std::string label) {
  auto stream = event::Stream::Adopt(loop, fd.Release());
  if (!stream) {
    log::Warning("worker control link: {}", stream.error());
    return nullptr;
  }
  std::shared_ptr<WorkerLink> l(new WorkerLink);
  l->stream_ = std::move(*stream);
  l->timer_ = std::make_unique<event::Timer>(loop);
  l->label_ = std::move(label);
  l->StartReading();
  return l;
}

void WorkerLink::Write(std::string frame) {
  if (closed_) return;
  std::weak_ptr<WorkerLink> weak = weak_from_this();
  stream_->Write(std::move(frame), [weak](int status) {
    if (auto self = weak.lock(); self && status != 0) self->Fail("worker control link: write failed");
  });
}

std::shared_ptr<WorkerLink::Call> WorkerLink::Send(const std::vector<std::string>& words,
                                                   std::function<void(std::string_view)> on_text,
                                                   std::function<void(const ctlproto::End&)> on_end) {
  auto call = std::make_shared<Call>(Call{std::move(on_text), std::move(on_end)});
  if (closed_) {
    call->on_end({false, "the worker has exited"});
    return call;
  }
  uint32_t id = next_id_++;
  if (next_id_ == 0) next_id_ = 1;
  calls_[id] = call;
  std::string frame;
  ipc::AppendFrame(ctlproto::EncodeRequest(words, id), &frame);
  Write(std::move(frame));
  if (!timer_->active()) ArmTimer();
  return call;
}

// Silence is measured from the last frame the worker sent (or the first
// call since it was quiet): any frame, of any call, shows it is alive.
void WorkerLink::ArmTimer() {
  timer_->Stop();
  bool waiting = false;
  for (const auto& [id, c] : calls_) waiting |= !c->cancelled && !c->paused;
  if (!waiting || !reading_ || closed_) return;
  auto limit = ControlTimeout();
  if (limit.count() <= 0) return;
  std::weak_ptr<WorkerLink> weak = weak_from_this();
  timer_->Start(uint64_t(limit.count()) * 1000, 0, [weak] {
    if (auto self = weak.lock()) self->TimedOut();
  });
}

// The worker is stopped or stuck: its callers hear so now; what it sends
// later for them is dropped (the calls stay until their end frame comes).
void WorkerLink::TimedOut() {
  auto keep = shared_from_this();
  long long secs = ControlTimeout().count();
  std::string why = fmt::format("{} did not answer within {}s (control_timeout); it may be stopped or "
                                "overloaded, try again later",
                                label_, secs);
  log::Warning("control: {}", why);
  std::vector<std::shared_ptr<Call>> waiting;
  for (auto& [id, c] : calls_) {
    if (c->cancelled || c->paused) continue;
    c->cancelled = true;
    waiting.push_back(c);
    std::string frame;
    ipc::AppendFrame(ctlproto::EncodeCancel(id), &frame);
    Write(std::move(frame));
  }
  for (auto& c : waiting)
    if (c->on_end) c->on_end({false, why});
}

void WorkerLink::Cancel(const std::shared_ptr<Call>& call) {
  if (call->cancelled) return;
  call->cancelled = true;
  for (const auto& [id, c] : calls_) {
    if (c != call) continue;
    std::string frame;
    ipc::AppendFrame(ctlproto::EncodeCancel(id), &frame);
    Write(std::move(frame));
  }
  ArmTimer();  // what it still sends for this call is dropped, not waited for
}

void WorkerLink::Pause(const std::shared_ptr<Call>& call, bool pause) {
  if (closed_ || call->cancelled || call->paused == pause) return;
  for (const auto& [id, c] : calls_) {
    if (c != call) continue;
    call->paused = pause;
    std::string frame;
    ipc::AppendFrame(ctlproto::EncodePause(id, pause), &frame);
    Write(std::move(frame));
    ArmTimer();  // a paused call waits for its client, not for the worker
    return;
  }
}

void WorkerLink::SendState(const ctlproto::RuntimeState& s) {
  std::string frame;
  ipc::AppendFrame(std::string(1, char(ctlproto::Kind::kState)) + s.Encode(), &frame);
  Write(std::move(frame));
}

void WorkerLink::StartReading() {
  if (reading_ || closed_) return;
  reading_ = true;
  std::weak_ptr<WorkerLink> weak = weak_from_this();
  stream_->ReadStart(
      [weak](std::string_view d) {
        if (auto self = weak.lock()) self->OnData(d);
      },
      [weak](int) {
        if (auto self = weak.lock()) self->Fail("the worker has exited");
      });
  if (!calls_.empty()) ArmTimer();
}

void WorkerLink::Close() { Fail("the worker has exited"); }

void WorkerLink::Fail(const std::string& why) {
  if (closed_) return;
  closed_ = true;
  reading_ = false;
  auto keep = shared_from_this();
  auto calls = std::move(calls_);
  calls_.clear();
  stream_.reset();
  timer_->Stop();
  for (auto& [id, c] : calls)
    if (!c->cancelled && c->on_end) c->on_end({false, why});
}

void WorkerLink::OnData(std::string_view d) {
  auto keep = shared_from_this();
  reader_.Feed(d);
  std::string p;
  ipc::FrameReader::Status st;
  bool any = false;
  while (!closed_ && (st = reader_.Next(&p)) == ipc::FrameReader::Status::kFrame) {
    any = true;
    auto id = ctlproto::IdOf(p);
    auto it = id ? calls_.find(*id) : calls_.end();
    if (it == calls_.end()) return Fail("worker control link: unexpected frame");
    auto call = it->second;
    if (ctlproto::KindOf(p) == ctlproto::Kind::kText) {
      if (!call->cancelled && call->on_text) call->on_text(ctlproto::DecodeText(p));
      continue;
    }
    auto end = ctlproto::DecodeEnd(p);
    if (!end) return Fail("worker control link: malformed frame");
    calls_.erase(it);
    if (!call->cancelled && call->on_end) call->on_end(*end);
  }
  if (!closed_ && st == ipc::FrameReader::Status::kTooLong) return Fail("worker control link: frame too long");
  if (any && !closed_) ArmTimer();
}

namespace {

// One relayed request to a set of workers, answered one after another so that
// each worker's lines stay together.
struct Relay : std::enable_shared_from_this<Relay> {
  std::vector<std::string> words;
  std::shared_ptr<ctlproto::Reply> reply;
  std::vector<WorkerRef> targets;
  size_t next = 0, ok = 0;
  std::string last_error;
  Aggregate how = Aggregate::kAll;
  std::function<bool(const std::vector<std::string>&)> none_needed;
  std::shared_ptr<WorkerLink> link;
  std::shared_ptr<WorkerLink::Call> call;

  void Start() {
    auto self = shared_from_this();
    reply->OnCancel([self] {
      if (self->link && self->call) self->link->Cancel(self->call);
    });
    SendNext();
  }

  void SendNext() {
    if (next == targets.size()) return Finish();
    link = targets[next++].link;
    std::weak_ptr<Relay> weak = weak_from_this();
    auto self = shared_from_this();
    call = link->Send(
        words,
        [weak](std::string_view text) {
          auto r = weak.lock();
          if (!r) return;
          r->reply->Text(text);
          if (r->reply->congested() && r->call) {
            // This answer waits until the client has caught up; what the
            // worker sent before it heard so is bounded by its own high-water mark.
            auto l = r->link;
            auto c = r->call;
            l->Pause(c, true);
            r->reply->OnDrain([l, c] { l->Pause(c, false); });
          }
        },
        [self](const ctlproto::End& end) {
          if (end.ok) ++self->ok;
          else self->last_error = end.error;
          self->call.reset();
          if (self->reply->cancelled()) return;
          if (!end.ok && self->how == Aggregate::kAll) return self->reply->Fail(end.error);
          self->SendNext();
        });
  }

  void Finish() {
    if (how == Aggregate::kAny && ok == 0 && !(none_needed && none_needed(words)))
      return reply->Fail(last_error.empty() ? "no worker answered" : last_error);
    reply->Finish();
  }
};

void RunRelay(const ctlproto::Request& req, std::shared_ptr<ctlproto::Reply> reply, std::vector<WorkerRef> targets,
              Aggregate how, std::function<bool(const std::vector<std::string>&)> none_needed = nullptr) {
  auto r = std::make_shared<Relay>();
  r->none_needed = std::move(none_needed);
  r->words = req.words;
  r->reply = std::move(reply);
  r->targets = std::move(targets);
  r->how = how;
  r->Start();
}

}  // namespace

ctlproto::Handler RelayToQmgr() {
  return [](const ctlproto::Request& req, std::shared_ptr<ctlproto::Reply> reply) {
    std::vector<WorkerRef> qmgr;
    for (auto& w : TheControl().Workers())
      if (w.command == "qmgr" && w.link) qmgr.push_back(w);
    if (qmgr.empty()) return reply->Fail("the queue manager is not running; try again in a moment");
    qmgr.resize(1);  // one long-running qmgr (maxproc 1)
    RunRelay(req, std::move(reply), std::move(qmgr), Aggregate::kAll);
  };
}

ctlproto::Handler Broadcast(std::string command, Aggregate how,
                       std::function<bool(const std::vector<std::string>&)> none_needed) {
  return [command, how, none_needed](const ctlproto::Request& req, std::shared_ptr<ctlproto::Reply> reply) {
    std::vector<WorkerRef> targets;
    for (auto& w : TheControl().Workers())
      if ((command.empty() || w.command == command) && w.link) targets.push_back(w);
    std::sort(targets.begin(), targets.end(), [](const WorkerRef& a, const WorkerRef& b) { return a.pid < b.pid; });
    // No worker of that kind running is not an error for kAll: nothing to do.
    if (targets.empty() && how == Aggregate::kAll) return reply->Finish();
    RunRelay(req, std::move(reply), std::move(targets), how, none_needed);
  };
}

}  // namespace postern::master
