// ctl/spf_record.h — an SPF record (RFC 7208) cut into the terms `postern spf
// walk` follows: ip4/ip6 ranges, include/redirect, a/mx with their CIDR
// lengths. Pure parsing, unit-tested; the walk itself is in spf.cc.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::ctl::spf {

enum class Kind { kIp4, kIp6, kA, kMx, kInclude, kRedirect, kOther };

struct Term {
  Kind kind = Kind::kOther;
  char qualifier = '+';  // + - ~ ?
  std::string arg;       // ip4/ip6: the range; a/mx/include/redirect: the domain ("" = current)
  int cidr4 = -1;        // a/mx "/24"; -1 when absent
  int cidr6 = -1;        // a/mx "//64"
  bool operator==(const Term&) const = default;
};

// True when the TXT record is an SPF version 1 record ("v=spf1" then space or end).
bool IsSpf1(std::string_view txt);
// The terms of an SPF record (the "v=spf1" word skipped); nullopt when a
// term is malformed (a bad CIDR length or an empty domain after ':').
std::optional<std::vector<Term>> Parse(std::string_view record);

}  // namespace postern::ctl::spf
