// dns/address.h — an IPv4 or IPv6 address as DNS answers carry it: parsed from
// and printed as text, turned into a sockaddr for connect(), and named in the
// reverse tree (in-addr.arpa / ip6.arpa) for PTR lookups.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace postern::dns {

class IpAddress {
 public:
  IpAddress() = default;
  static IpAddress V4(const in_addr& a);
  static IpAddress V6(const in6_addr& a);
  // "192.0.2.1", "2001:db8::1" (no brackets, no zone); nullopt otherwise.
  static std::optional<IpAddress> Parse(std::string_view text);

  int family() const { return family_; }  // AF_INET or AF_INET6
  bool is_v4() const { return family_ == AF_INET; }
  bool is_v6() const { return family_ == AF_INET6; }
  // 4 or 16 bytes in network order.
  const uint8_t* bytes() const { return bytes_.data(); }
  size_t size() const { return is_v4() ? 4 : 16; }

  std::string ToString() const;
  // The address with `port`, ready for uv_tcp_connect / connect().
  sockaddr_storage ToSockaddr(uint16_t port) const;
  // "1.2.0.192.in-addr.arpa" or the 32-nibble ip6.arpa name.
  std::string ReverseName() const;

  friend bool operator==(const IpAddress& a, const IpAddress& b) {
    return a.family_ == b.family_ && a.bytes_ == b.bytes_;
  }
  friend auto operator<=>(const IpAddress& a, const IpAddress& b) {
    if (a.family_ != b.family_) return a.family_ <=> b.family_;
    return a.bytes_ <=> b.bytes_;
  }

 private:
  int family_ = AF_INET;
  std::array<uint8_t, 16> bytes_{};
};

}  // namespace postern::dns
