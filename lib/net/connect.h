// net/connect.h — one non-blocking connect (TCP from an optional source
// address, or a unix socket) bounded by a timer, ending in an event::Stream
// (smtp's deliveries, smtpd's policy client).
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "postern/dns/address.h"
#include "postern/event/event.h"
#include "postern/util/fd.h"
#include "postern/util/result.h"

namespace postern::net {

// "host:port" (host may be [bracketed]) → address and port; a host name is
// resolved here, blocking, once (milters and policy services live on
// localhost or a fixed address).
Result<std::pair<dns::IpAddress, uint16_t>> ResolveHostPort(std::string_view host_port);

// A service endpoint as Postfix writes it: "inet:host:port" stays as it is,
// "unix:path" gets a relative path made absolute below base_dir (the queue
// directory); anything else is an error naming the text.
Result<std::string> ParseEndpoint(std::string_view e, std::string_view base_dir);

class Connector {
 public:
  // The stream, or the reason in strerror's words ("Connection refused").
  using Done = std::function<void(Result<std::unique_ptr<event::Stream>>)>;
  explicit Connector(uv_loop_t* loop) : loop_(loop), timer_(loop) {}
  Connector(const Connector&) = delete;
  Connector& operator=(const Connector&) = delete;

  // timeout_ms 0 = no limit. `bind` (may be null) is smtp_bind_address.
  void Tcp(const dns::IpAddress& addr, uint16_t port, const dns::IpAddress* bind,
           uint64_t timeout_ms, Done done);
  void Unix(const std::string& path, uint64_t timeout_ms, Done done);
  // Drops a connect in progress; its callback is never called.
  void Cancel();

 private:
  void Begin(Fd fd, const sockaddr* sa, socklen_t len, uint64_t timeout_ms, Done done);
  void Finish(int err);

  uv_loop_t* loop_;
  event::Timer timer_;
  std::unique_ptr<event::Poll> poll_;
  Fd fd_;
  Done done_;
};

}  // namespace postern::net
