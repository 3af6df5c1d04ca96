// ipc/control_link.cc — one request at a time, replies streamed; see
// control_link.h.
#include "ipc/control_link.h"

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
  if (current_) current_->Cancel();
  current_.reset();
  queued_.clear();
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
        if (!words) return Close();
        queued_.push_back(std::move(*words));
        break;
      }
      case Kind::kCancel:
        if (current_) current_->Cancel();
        break;
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
  if (!closed_) Next();
}

// Starts the next queued request once the current response has ended.
void Link::Next() {
  while (!closed_ && (!current_ || current_->done()) && !queued_.empty()) {
    if (current_ && one_shot_) return;
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
    current_ = std::make_shared<Reply>(write, backlog);
    auto words = std::move(queued_.front());
    queued_.pop_front();
    table_->Dispatch(std::move(words), current_);
  }
}

void Link::Written() {
  if (closed_) return;
  if (current_ && !current_->done()) return current_->Pump();
  if (one_shot_ && current_ && current_->done() && stream_->write_queue_size() == 0) return Close();
  Next();
}

}  // namespace postern::ipc::control
