// http/client.cc — see client.h.
#include "postern/http/client.h"

namespace postern::http {

std::shared_ptr<HttpsGet> HttpsGet::Start(uv_loop_t* loop, dns::Resolver* resolver, GetOptions o, GetDone done) {
  auto g = std::make_shared<HttpsGet>(loop, std::move(o), std::move(done));
  g->Begin(resolver);
  return g;
}

HttpsGet::HttpsGet(uv_loop_t* loop, GetOptions o, GetDone done)
    : loop_(loop), o_(std::move(o)), done_(std::move(done)), connector_(loop), timer_(loop) {}

void HttpsGet::Begin(dns::Resolver* resolver) {
  std::weak_ptr<HttpsGet> weak = weak_from_this();
  timer_.Start(o_.timeout_ms, 0, [weak] {
    if (auto self = weak.lock())
      self->Finish(Err("timed out after " + std::to_string(self->o_.timeout_ms / 1000) + "s talking to " +
                       (self->where_.empty() ? self->o_.host : self->where_)));
  });
  ticket_ = resolver->LookupAddresses(o_.host, [weak](dns::AddressResult r) {
    if (auto self = weak.lock()) self->OnAddresses(std::move(r));
  });
}

void HttpsGet::OnAddresses(dns::AddressResult r) {
  if (!r.outcome.ok() || r.addresses.empty())
    return Finish(Err("cannot find the address of " + o_.host + ": " + r.outcome.reason));
  // The first address only: the whole exchange has one time limit.
  const dns::IpAddress& a = r.addresses.front();
  std::string where = o_.host + "[" + a.ToString() + "]:" + std::to_string(o_.port);
  std::weak_ptr<HttpsGet> weak = weak_from_this();
  connector_.Tcp(a, o_.port, nullptr, o_.timeout_ms, [weak, where](Result<std::unique_ptr<event::Stream>> s) {
    if (auto self = weak.lock()) self->OnConnected(where, std::move(s));
  });
}

void HttpsGet::OnConnected(const std::string& where, Result<std::unique_ptr<event::Stream>> s) {
  where_ = where;
  if (!s) return Finish(Err("connect to " + where + ": " + s.error()));
  stream_ = std::make_unique<tls::Stream>(loop_, std::move(*s));
  o_.tls.role = tls::Role::kClient;
  o_.tls.server_name = o_.host;
  o_.tls.handshake_timeout_ms = o_.timeout_ms;
  std::weak_ptr<HttpsGet> weak = weak_from_this();
  // Reading starts now so that the handshake sees the server's bytes.
  stream_->ReadStart(
      [weak](std::string_view d) {
        if (auto self = weak.lock()) self->OnData(d, false);
      },
      [weak](int) {
        if (auto self = weak.lock()) self->OnData({}, true);
      });
  stream_->StartTls(o_.tls, [weak](Result<void> r) {
    if (auto self = weak.lock()) self->OnHandshake(std::move(r));
  });
}

void HttpsGet::OnHandshake(Result<void> r) {
  if (!r) return Finish(Err("TLS handshake with " + where_ + ": " + r.error()));
  std::string detail;
  tls::PeerStatus st = tls::CheckPeer(stream_->session(), {o_.host}, &detail);
  if (st != tls::PeerStatus::kVerified)
    return Finish(Err("certificate of " + where_ + " not verified (" + std::string(tls::PeerStatusName(st)) +
                      (detail.empty() ? "" : ": " + detail) + ")"));
  stream_->Write(GetRequest(o_.host, o_.path));
}

void HttpsGet::OnData(std::string_view data, bool closed) {
  if (!done_) return;
  if (!stream_ || !stream_->tls()) {
    if (closed) Finish(Err("connection to " + where_ + " closed during the TLS handshake"));
    return;
  }
  in_.append(data);
  Response r = ParseResponse(in_, closed, o_.limits);
  if (r.state == Response::State::kIncomplete) {
    if (closed) Finish(Err("connection to " + where_ + " closed before a complete answer"));
    return;
  }
  if (r.state != Response::State::kComplete) return Finish(Err("bad answer from " + where_ + ": " + r.error));
  if (r.status / 100 == 3)
    return Finish(Err("HTTP status " + std::to_string(r.status) + " from " + where_ +
                      (r.location.empty() ? "" : " (redirect to " + r.location + ")") + ": redirects are not followed"));
  if (r.status != 200) return Finish(Err("HTTP status " + std::to_string(r.status) + " from " + where_));
  Finish(std::move(r));
}

void HttpsGet::Finish(Result<Response> r) {
  if (!done_) return;
  GetDone done = std::move(done_);
  Cancel();
  done(std::move(r));
}

void HttpsGet::Cancel() {
  done_ = nullptr;
  timer_.Stop();
  ticket_.Cancel();
  connector_.Cancel();
  stream_.reset();
}

}  // namespace postern::http
