// http/client.h — one HTTPS GET on the process's loop (MTA-STS policies,
// RFC 8461 §3.3): the host's addresses from the asynchronous resolver, a
// bounded connect, TLS with the server's certificate verified against the
// WebPKI (system trust store or a CA file) for the host name, a bounded
// answer, no redirects followed. Nothing blocks the loop.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "postern/dns/resolver.h"
#include "postern/event/event.h"
#include "postern/http/response.h"
#include "postern/net/connect.h"
#include "postern/tls/stream.h"
#include "postern/tls/tls.h"
#include "postern/util/result.h"

namespace postern::http {

struct GetOptions {
  std::string host;  // DNS name: looked up, sent as SNI and Host:, matched against the certificate
  uint16_t port = 443;
  std::string path = "/";
  tls::Config tls;   // role client, credentials holding the trust anchors, priority
  uint64_t timeout_ms = 10000;  // the whole exchange, lookup to last byte
  ResponseLimits limits;
};

// A complete 200 answer, or an error naming what went wrong ("connect to
// host[addr]:port: Connection refused", "HTTP status 301 ...").
using GetDone = std::function<void(Result<Response>)>;

class HttpsGet : public std::enable_shared_from_this<HttpsGet> {
 public:
  // Starts at once; `done` runs exactly once, later, on the loop, unless
  // Cancel() came first. The caller keeps the pointer while it waits.
  static std::shared_ptr<HttpsGet> Start(uv_loop_t* loop, dns::Resolver* resolver, GetOptions o, GetDone done);
  HttpsGet(uv_loop_t* loop, GetOptions o, GetDone done);
  void Cancel();

 private:
  void Begin(dns::Resolver* resolver);
  void OnAddresses(dns::AddressResult r);
  void OnConnected(const std::string& where, Result<std::unique_ptr<event::Stream>> s);
  void OnHandshake(Result<void> r);
  void OnData(std::string_view data, bool closed);
  void Finish(Result<Response> r);

  uv_loop_t* loop_;
  GetOptions o_;
  GetDone done_;
  dns::Ticket ticket_;
  net::Connector connector_;
  event::Timer timer_;
  std::unique_ptr<tls::Stream> stream_;
  std::string where_;  // "host[addr]:port", for messages
  std::string in_;
};

}  // namespace postern::http
