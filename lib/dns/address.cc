// dns/address.cc — IpAddress: text, sockaddr and reverse-name forms.
#include "postern/dns/address.h"

#include <arpa/inet.h>

#include <cstring>

namespace postern::dns {

IpAddress IpAddress::V4(const in_addr& a) {
  IpAddress ip;
  ip.family_ = AF_INET;
  std::memcpy(ip.bytes_.data(), &a, 4);
  return ip;
}

IpAddress IpAddress::V6(const in6_addr& a) {
  IpAddress ip;
  ip.family_ = AF_INET6;
  std::memcpy(ip.bytes_.data(), &a, 16);
  return ip;
}

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  // INET6_ADDRSTRLEN bounds every valid form; longer input is not an address.
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  in_addr a4;
  if (inet_pton(AF_INET, buf, &a4) == 1) return V4(a4);
  in6_addr a6;
  if (inet_pton(AF_INET6, buf, &a6) == 1) return V6(a6);
  return std::nullopt;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN];
  if (!inet_ntop(family_, bytes_.data(), buf, sizeof buf)) return "";
  return buf;
}

sockaddr_storage IpAddress::ToSockaddr(uint16_t port) const {
  sockaddr_storage ss{};
  if (is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, bytes_.data(), 4);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    std::memcpy(&sin6->sin6_addr, bytes_.data(), 16);
  }
  return ss;
}

std::string IpAddress::ReverseName() const {
  std::string out;
  if (is_v4()) {
    for (int i = 3; i >= 0; --i) out += std::to_string(bytes_[i]) + ".";
    return out + "in-addr.arpa";
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out.reserve(72);
  for (int i = 15; i >= 0; --i) {
    out += kHex[bytes_[i] & 0xf];
    out += '.';
    out += kHex[bytes_[i] >> 4];
    out += '.';
  }
  return out + "ip6.arpa";
}

}  // namespace postern::dns
