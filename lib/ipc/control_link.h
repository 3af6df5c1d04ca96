// ipc/control_link.h — the answering end of a control stream: reads request,
// cancel and state frames, runs each request through a handler table as it
// arrives (several may be under way) and streams each Reply back, tagged with
// its request id, with backpressure (see control.h).
// Workers serve master's link with it; master serves each ctl client with it.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "postern/event/event.h"
#include "postern/ipc/control.h"
#include "postern/ipc/frame.h"

namespace postern::ipc::control {

class Link : public std::enable_shared_from_this<Link> {
 public:
  struct Callbacks {
    // 'S' frames (workers); nullptr: a state frame breaks the link.
    std::function<void(const RuntimeState&)> on_state;
    // End of the stream or a protocol error.
    std::function<void()> on_close;
  };
  // Takes the stream; requests are dispatched through `table`.
  static std::shared_ptr<Link> Start(std::unique_ptr<event::Stream> stream, const Table* table, Callbacks cb);
  // Close after the first response (a ctl client sends one request).
  void set_one_shot() { one_shot_ = true; }
  void Close();

 private:
  Link(std::unique_ptr<event::Stream> s, const Table* t, Callbacks cb)
      : stream_(std::move(s)), table_(t), cb_(std::move(cb)) {}
  void OnData(std::string_view data);
  void Serve(uint32_t id, std::vector<std::string> words);
  void Written();

  std::unique_ptr<event::Stream> stream_;
  const Table* table_;
  Callbacks cb_;
  FrameReader reader_{kFrameMax};
  std::map<uint32_t, std::shared_ptr<Reply>> active_;  // by request id, until done
  bool one_shot_ = false, closed_ = false, served_ = false;
};

}  // namespace postern::ipc::control
