// smtp/cache.h — the worker's connection cache: an idle connection to a next
// hop waits smtp_connection_cache_time_limit for the next request there, and
// is never reused past smtp_connection_reuse_time_limit after it was opened.
// A kSingle worker serves one request at a time, so the cache lives in the
// process across requests and goes with it (or on drain).
#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "postern/event/event.h"
#include "smtp/conn.h"

namespace postern::smtp_client {

class Cache {
 public:
  Cache(uv_loop_t* loop, uint64_t idle_ms, uint64_t reuse_ms, uint64_t quit_ms)
      : loop_(loop), idle_ms_(idle_ms), reuse_ms_(reuse_ms), quit_ms_(quit_ms) {}
  // Keeps `c` for `key` (replacing and closing an older one).
  void Put(const std::string& key, std::unique_ptr<Conn> c);
  // The idle connection for `key` if it is still usable, else nullptr.
  std::unique_ptr<Conn> Take(const std::string& key);
  // Says QUIT to every idle connection (drain).
  void CloseAll();
  // Ends a connection politely: QUIT, wait for the reply (bounded), close;
  // with smtp_skip_quit_response, close once QUIT is written.
  void Quit(std::unique_ptr<Conn> c);
  size_t size() const { return idle_.size(); }
  void set_skip_quit_response(bool skip) { skip_quit_response_ = skip; }
  // postern send: `fn` runs once no connection is saying QUIT any more (now, if none is).
  void WhenQuiet(std::function<void()> fn);

 private:
  struct Entry {
    std::unique_ptr<Conn> conn;
    std::unique_ptr<event::Timer> timer;
  };
  uv_loop_t* loop_;
  uint64_t idle_ms_, reuse_ms_, quit_ms_;
  std::map<std::string, Entry> idle_;
  // Connections saying QUIT, by a serial number, until the reply or the timeout.
  std::map<uint64_t, std::unique_ptr<Conn>> quitting_;
  uint64_t serial_ = 0;
  bool skip_quit_response_ = false;
  std::function<void()> on_quiet_;
  void Done(uint64_t id);
};

}  // namespace postern::smtp_client
