// lib/dns/hosts.h — the hosts file (/etc/hosts), read as the C library's
// getnameinfo/getaddrinfo read it before DNS ("files dns"): smtpd names a
// client the file lists without asking DNS, as Postfix does through the C
// library (localhost[127.0.0.1] even when DNS has no 1.0.0.127.in-addr.arpa).
#pragma once

#include <sys/stat.h>

#include <string>
#include <string_view>
#include <vector>

#include "postern/dns/address.h"

namespace postern::dns {

struct HostsEntry {
  IpAddress addr;
  std::vector<std::string> names;  // lower case; the canonical name first
};

// Lines "ADDRESS NAME [ALIAS...]"; '#' starts a comment; malformed lines and
// names are skipped. At most kMaxEntries entries.
std::vector<HostsEntry> ParseHosts(std::string_view text);

class HostsFile {
 public:
  static constexpr size_t kMaxBytes = 1 << 20;  // a larger file is read up to here
  static constexpr size_t kMaxEntries = 10000;

  // An empty path is a file with no entries.
  explicit HostsFile(std::string path = "/etc/hosts") : path_(std::move(path)) {}

  // The names the file gives `addr` (canonical first) that also map back to
  // it there; re-read when the file changed since the last call.
  std::vector<std::string> ConfirmedNamesOf(const IpAddress& addr);

 private:
  void Refresh();

  std::string path_;
  struct stat seen_ {};
  bool loaded_ = false;
  std::vector<HostsEntry> entries_;
};

}  // namespace postern::dns
