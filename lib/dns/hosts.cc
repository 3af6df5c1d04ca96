// lib/dns/hosts.cc — the hosts file; see hosts.h.
#include "postern/dns/hosts.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "postern/util/strings.h"

namespace postern::dns {

namespace {

// A host name as the file may hold it: letters, digits, '-', '.', '_'.
bool PlausibleName(std::string_view n) {
  if (n.empty() || n.size() > 253) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_';
  });
}

}  // namespace

std::vector<HostsEntry> ParseHosts(std::string_view text) {
  std::vector<HostsEntry> out;
  while (!text.empty() && out.size() < HostsFile::kMaxEntries) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    line = line.substr(0, line.find('#'));
    std::vector<std::string> fields = SplitList(line, " \t\r");
    if (fields.size() < 2) continue;
    auto addr = IpAddress::Parse(fields[0]);
    if (!addr) continue;
    HostsEntry e{*addr, {}};
    for (size_t i = 1; i < fields.size(); ++i) {
      std::string n = ToLower(fields[i]);
      while (n.size() > 1 && n.back() == '.') n.pop_back();
      if (PlausibleName(n)) e.names.push_back(std::move(n));
    }
    if (!e.names.empty()) out.push_back(std::move(e));
  }
  return out;
}

void HostsFile::Refresh() {
  struct stat st {};
  if (path_.empty() || stat(path_.c_str(), &st) != 0) {
    entries_.clear();
    loaded_ = true;
    seen_ = {};
    return;
  }
  if (loaded_ && st.st_ino == seen_.st_ino && st.st_size == seen_.st_size &&
      st.st_mtim.tv_sec == seen_.st_mtim.tv_sec && st.st_mtim.tv_nsec == seen_.st_mtim.tv_nsec)
    return;
  std::string text;
  int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    text.resize(std::min<size_t>(kMaxBytes, size_t(std::max<off_t>(st.st_size, 0))));
    size_t got = 0;
    while (got < text.size()) {
      ssize_t n = read(fd, text.data() + got, text.size() - got);
      if (n <= 0) break;
      got += size_t(n);
    }
    text.resize(got);
    close(fd);
  }
  entries_ = ParseHosts(text);
  seen_ = st;
  loaded_ = true;
}

std::vector<std::string> HostsFile::ConfirmedNamesOf(const IpAddress& addr) {
  Refresh();
  std::vector<std::string> out;
  for (const HostsEntry& e : entries_) {
    if (!(e.addr == addr)) continue;
    for (const std::string& n : e.names)
      if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  }
  // Every name found on a line of addr maps back to addr there (getaddrinfo
  // answers from the file too), so each one is confirmed.
  return out;
}

}  // namespace postern::dns
