// smtp/cache.cc — idle connections and their expiry timers; see cache.h.
#include "smtp/cache.h"

#include <utility>
#include <vector>

namespace postern::smtp_client {

void Cache::Put(const std::string& key, std::unique_ptr<Conn> c) {
  if (auto it = idle_.find(key); it != idle_.end()) {
    auto old = std::move(it->second.conn);
    idle_.erase(it);
    Quit(std::move(old));
  }
  auto timer = std::make_unique<event::Timer>(loop_);
  timer->Start(idle_ms_ ? idle_ms_ : 1, 0, [this, key] {
    auto it = idle_.find(key);
    if (it == idle_.end()) return;
    auto conn = std::move(it->second.conn);
    idle_.erase(it);  // destroys the timer running this callback: libuv allows that
    Quit(std::move(conn));
  });
  // The peer closing an idle connection (its own timeout) just drops it.
  c->OnIdleBreak([this, key] {
    auto it = idle_.find(key);
    if (it != idle_.end()) idle_.erase(it);
  });
  idle_[key] = Entry{std::move(c), std::move(timer)};
}

std::unique_ptr<Conn> Cache::Take(const std::string& key) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto conn = std::move(it->second.conn);
  idle_.erase(it);
  conn->OnIdleBreak({});
  auto age = std::chrono::duration_cast<std::chrono::milliseconds>(Conn::Clock::now() - conn->created());
  if (conn->broken() || uint64_t(age.count()) >= reuse_ms_) {
    Quit(std::move(conn));
    return nullptr;
  }
  return conn;
}

void Cache::CloseAll() {
  std::vector<std::unique_ptr<Conn>> all;
  for (auto& [key, e] : idle_) all.push_back(std::move(e.conn));
  idle_.clear();
  for (auto& c : all) Quit(std::move(c));
}

void Cache::Quit(std::unique_ptr<Conn> c) {
  if (!c || c->broken()) return;
  uint64_t id = ++serial_;
  Conn* raw = c.get();
  quitting_[id] = std::move(c);
  if (skip_quit_response_) {
    // The write callback runs on the loop after the bytes went out (or failed).
    raw->Write("QUIT\r\n", [this, id](int) { Done(id); });
    return;
  }
  raw->Write("QUIT\r\n");
  // Erasing inside the callback destroys the connection; Conn allows that.
  raw->Expect("sending QUIT", quit_ms_ ? quit_ms_ : 1000, [this, id](Result<smtp::Reply>) { Done(id); });
}

void Cache::Done(uint64_t id) {
  quitting_.erase(id);
  if (quitting_.empty() && on_quiet_) std::exchange(on_quiet_, nullptr)();
}

void Cache::WhenQuiet(std::function<void()> fn) {
  if (quitting_.empty()) return fn();
  on_quiet_ = std::move(fn);
}

}  // namespace postern::smtp_client
