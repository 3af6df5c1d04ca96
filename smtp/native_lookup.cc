// smtp/native_lookup.cc — getaddrinfo on libuv's thread pool; see native_lookup.h.
#include "smtp/native_lookup.h"

#include <netdb.h>

#include <algorithm>
#include <memory>

namespace postern::smtp_client {

namespace {

struct Request {
  uv_getaddrinfo_t req;
  bool ipv4, ipv6;
  std::string host;
  std::function<void(dns::AddressResult)> done;
};

dns::AddressResult Collect(const Request& r, int status, addrinfo* res) {
  dns::AddressResult out;
  for (addrinfo* a = status == 0 ? res : nullptr; a; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    if (a->ai_family == AF_INET && r.ipv4)
      uv_ip4_name(reinterpret_cast<sockaddr_in*>(a->ai_addr), text, sizeof text);
    else if (a->ai_family == AF_INET6 && r.ipv6)
      uv_ip6_name(reinterpret_cast<sockaddr_in6*>(a->ai_addr), text, sizeof text);
    auto ip = dns::IpAddress::Parse(text);
    if (ip && std::find(out.addresses.begin(), out.addresses.end(), *ip) == out.addresses.end())
      out.addresses.push_back(*ip);
  }
  std::stable_partition(out.addresses.begin(), out.addresses.end(), [](const auto& a) { return a.is_v4(); });
  if (!out.addresses.empty()) return out;
  bool temporary = status == UV_EAI_AGAIN;
  out.outcome.status = temporary ? dns::Status::kTempFail : dns::Status::kNxDomain;
  out.outcome.detail = status == 0 ? "no address of an enabled protocol" : uv_strerror(status);
  out.outcome.reason = "Host or domain name not found. Name service error for name=" + r.host +
                       " type=A: Host not found" + (temporary ? ", try again" : "");
  return out;
}

}  // namespace

void NativeLookup(uv_loop_t* loop, const std::string& host, bool ipv4, bool ipv6,
                  std::function<void(dns::AddressResult)> done) {
  auto* r = new Request{{}, ipv4, ipv6, host, std::move(done)};
  addrinfo hints{};
  hints.ai_family = ipv4 && !ipv6 ? AF_INET : ipv6 && !ipv4 ? AF_INET6 : AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = uv_getaddrinfo(loop, &r->req, [](uv_getaddrinfo_t* req, int status, addrinfo* res) {
    std::unique_ptr<Request> r(reinterpret_cast<Request*>(req));
    dns::AddressResult out = Collect(*r, status, res);
    uv_freeaddrinfo(res);
    r->done(std::move(out));
  }, host.c_str(), nullptr, &hints);
  if (rc != 0) {
    std::unique_ptr<Request> owned(r);
    owned->done(Collect(*owned, rc, nullptr));
  }
}

}  // namespace postern::smtp_client
