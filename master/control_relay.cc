// master/control_relay.cc — master's links to its workers and the relay
// handlers that forward a ctl request to qmgr or to every worker of a kind,
// streaming the answers back with backpressure. See ipc/control.h.
#include <algorithm>

#include "log/log.h"
#include "master/control.h"

namespace postern::master {

namespace ctl = ipc::control;

std::shared_ptr<WorkerLink> WorkerLink::Open(uv_loop_t* loop, event::Fd fd) {
  auto stream = event::Stream::Adopt(loop, fd.Release());
  if (!stream) {
    log::Warning("worker control link: {}", stream.error());
    return nullptr;
  }
  std::shared_ptr<WorkerLink> l(new WorkerLink);
  l->stream_ = std::move(*stream);
  l->ResumeReading();
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
                                                   std::function<void(const ctl::End&)> on_end) {
  auto call = std::make_shared<Call>(Call{std::move(on_text), std::move(on_end)});
  if (closed_) {
    call->on_end({false, "the worker has exited"});
    return call;
  }
  calls_.push_back(call);
  std::string frame;
  ipc::AppendFrame(ctl::EncodeRequest(words), &frame);
  Write(std::move(frame));
  return call;
}

void WorkerLink::Cancel(const std::shared_ptr<Call>& call) {
  if (call->cancelled) return;
  call->cancelled = true;
  // The worker answers in order, so only the oldest call can be the one it
  // is working on; a later one is told when it gets to the front.
  if (!calls_.empty() && calls_.front() == call) {
    std::string frame;
    ipc::AppendFrame(ctl::EncodeCancel(), &frame);
    Write(std::move(frame));
  }
  ResumeReading();  // drain what is still coming
}

void WorkerLink::SendState(const ctl::RuntimeState& s) {
  std::string frame;
  ipc::AppendFrame(std::string(1, char(ctl::Kind::kState)) + s.Encode(), &frame);
  Write(std::move(frame));
}

void WorkerLink::PauseReading() {
  if (!reading_ || closed_) return;
  reading_ = false;
  stream_->ReadStop();
}

void WorkerLink::ResumeReading() {
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
  for (auto& c : calls)
    if (c->on_end) c->on_end({false, why});
}

void WorkerLink::OnData(std::string_view d) {
  auto keep = shared_from_this();
  reader_.Feed(d);
  std::string p;
  ipc::FrameReader::Status st;
  while (!closed_ && (st = reader_.Next(&p)) == ipc::FrameReader::Status::kFrame) {
    if (calls_.empty()) return Fail("worker control link: unexpected frame");
    auto call = calls_.front();
    if (ctl::KindOf(p) == ctl::Kind::kText) {
      if (!call->cancelled && call->on_text) call->on_text(ctl::DecodeText(p));
      continue;
    }
    auto end = ctl::DecodeEnd(p);
    if (!end) return Fail("worker control link: malformed frame");
    calls_.pop_front();
    if (!call->cancelled && call->on_end) call->on_end(*end);
    if (!calls_.empty() && calls_.front()->cancelled) {
      std::string frame;
      ipc::AppendFrame(ctl::EncodeCancel(), &frame);
      Write(std::move(frame));
    }
  }
  if (!closed_ && st == ipc::FrameReader::Status::kTooLong) Fail("worker control link: frame too long");
}

namespace {

// One relayed request to a set of workers, answered one after another so that
// each worker's lines stay together.
struct Relay : std::enable_shared_from_this<Relay> {
  std::vector<std::string> words;
  std::shared_ptr<ctl::Reply> reply;
  std::vector<WorkerRef> targets;
  size_t next = 0, ok = 0;
  std::string last_error;
  Aggregate how = Aggregate::kAll;
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
          if (r->reply->congested()) {
            // Read no more from the worker until the client has caught up.
            auto l = r->link;
            l->PauseReading();
            r->reply->OnDrain([l] { l->ResumeReading(); });
          }
        },
        [self](const ctl::End& end) {
          if (end.ok) ++self->ok;
          else self->last_error = end.error;
          self->call.reset();
          if (self->reply->cancelled()) return;
          if (!end.ok && self->how == Aggregate::kAll) return self->reply->Fail(end.error);
          self->SendNext();
        });
  }

  void Finish() {
    if (how == Aggregate::kAny && ok == 0) return reply->Fail(last_error.empty() ? "no worker answered" : last_error);
    reply->Finish();
  }
};

void RunRelay(const ctl::Request& req, std::shared_ptr<ctl::Reply> reply, std::vector<WorkerRef> targets,
              Aggregate how) {
  auto r = std::make_shared<Relay>();
  r->words = req.words;
  r->reply = std::move(reply);
  r->targets = std::move(targets);
  r->how = how;
  r->Start();
}

}  // namespace

ctl::Handler RelayToQmgr() {
  return [](const ctl::Request& req, std::shared_ptr<ctl::Reply> reply) {
    std::vector<WorkerRef> qmgr;
    for (auto& w : TheControl().Workers())
      if (w.command == "qmgr" && w.link) qmgr.push_back(w);
    if (qmgr.empty()) return reply->Fail("the queue manager is not running; try again in a moment");
    qmgr.resize(1);  // one long-running qmgr (maxproc 1)
    RunRelay(req, std::move(reply), std::move(qmgr), Aggregate::kAll);
  };
}

ctl::Handler Broadcast(std::string command, Aggregate how) {
  return [command, how](const ctl::Request& req, std::shared_ptr<ctl::Reply> reply) {
    std::vector<WorkerRef> targets;
    for (auto& w : TheControl().Workers())
      if ((command.empty() || w.command == command) && w.link) targets.push_back(w);
    std::sort(targets.begin(), targets.end(), [](const WorkerRef& a, const WorkerRef& b) { return a.pid < b.pid; });
    // No worker of that kind running is not an error for kAll: nothing to do.
    if (targets.empty() && how == Aggregate::kAll) return reply->Finish();
    RunRelay(req, std::move(reply), std::move(targets), how);
  };
}

}  // namespace postern::master
