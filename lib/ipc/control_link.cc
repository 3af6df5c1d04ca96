// ipc/control_link.cc — requests run as they arrive, replies streamed and
// tagged with their request id; see control_link.h.
#include "postern/ipc/control_link.h"

namespace postern::ipc::control {

std::shared_ptr<Link> Link::Start(std::unique_ptr<event::Stream> stream, const Table* table, Callbacks cb) {
  std::shared_ptr<Link> l(new Link(std::move(stream), table, std::move(cb)));
  std::weak_ptr<Link> weak = l;
  l->stream_->ReadStart(
      [weak](std::string_view d) {
        if (auto self = weak.lock()) self->OnData(d);
      },
      [weak](int) {
        if (auto self = weak.lock()) self->Close();
      });
  return l;
}

void Link::Close() {
  if (closed_) return;
  closed_ = true;
  auto active = std::move(active_);
  active_.clear();
  for (auto& [id, r] : active) r->Cancel();
  stream_.reset();
  auto keep = shared_from_this();  // on_close may drop the owner's reference
  if (cb_.on_close) cb_.on_close();
}

void Link::OnData(std::string_view data) {
  reader_.Feed(data);
  std::string p;
  FrameReader::Status st;
  auto keep = shared_from_this();
  while (!closed_ && (st = reader_.Next(&p)) == FrameReader::Status::kFrame) {
    switch (KindOf(p)) {
      case Kind::kRequest: {
        auto words = DecodeRequest(p);
        auto id = IdOf(p);
        if (!words || !id || active_.count(*id)) return Close();
        // A ctl client has one request; anything more is ignored.
        if (one_shot_ && served_) break;
        served_ = true;
        Serve(*id, std::move(*words));
        break;
      }
      case Kind::kCancel:
      case Kind::kPause:
      case Kind::kUnpause: {
        auto id = IdOf(p);
        if (!id) return Close();
        // An answer that has ended already needs nothing more.
        auto it = active_.find(*id);
        if (it == active_.end()) break;
        auto reply = it->second;
        if (KindOf(p) == Kind::kCancel) reply->Cancel();
        else reply->SetPaused(KindOf(p) == Kind::kPause);
        break;
      }
      case Kind::kState: {
        auto s = RuntimeState::Decode(p.substr(1));
        if (!s || !cb_.on_state) return Close();
        cb_.on_state(*s);
        break;
      }
      default:
        return Close();
    }
  }
  if (!closed_ && st == FrameReader::Status::kTooLong) return Close();
  if (!closed_) Written();  // forget what ended inside the handlers
}

void Link::Serve(uint32_t id, std::vector<std::string> words) {
  std::weak_ptr<Link> weak = shared_from_this();
  auto write = [weak](std::string frame) {
    auto self = weak.lock();
    if (!self || self->closed_) return;
    self->stream_->Write(std::move(frame), [weak](int status) {
      auto s = weak.lock();
      if (!s) return;
      if (status != 0) return s->Close();
      s->Written();
    });
  };
  auto backlog = [weak]() -> size_t {
    auto self = weak.lock();
    return self && self->stream_ ? self->stream_->write_queue_size() : 0;
  };
  auto reply = std::make_shared<Reply>(write, backlog, id);
  active_[id] = reply;
  table_->Dispatch(std::move(words), reply);
}

// Output has drained: streams that wait for room go on; ended answers are
// forgotten; a ctl client's link closes once its answer is out.
void Link::Written() {
  if (closed_) return;
  auto keep = shared_from_this();
  std::vector<std::shared_ptr<Reply>> waiting;
  for (auto it = active_.begin(); it != active_.end();) {
    if (it->second->done()) {
      it = active_.erase(it);
    } else {
      waiting.push_back(it->second);
      ++it;
    }
  }
  for (auto& r : waiting) {
    if (closed_) return;
    r->Pump();
  }
  if (one_shot_ && served_ && active_.empty() && stream_ && stream_->write_queue_size() == 0) Close();
}

}  // namespace postern::ipc::control
