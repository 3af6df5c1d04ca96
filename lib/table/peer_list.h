// table/peer_list.h — Postfix's host name/address lists such as debug_peer_list:
// host names (matching their subdomains too), addresses and networks, and
// type:table entries looked up with a peer's name and address.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "postern/config/maincf.h"
#include "postern/table/cidr.h"
#include "postern/table/table.h"
#include "postern/util/result.h"

namespace postern::table {

class PeerList {
 public:
  static Result<PeerList> Parse(const std::vector<std::string>& entries);
  bool empty() const { return names_.empty() && nets_.empty() && tables_.empty(); }
  // True when the peer's name (or a parent domain) or its address is listed;
  // a table that cannot be read counts as no match.
  bool Matches(std::string_view name, std::string_view addr) const;

 private:
  std::vector<std::string> names_;  // lower case, without a leading dot
  std::vector<Network> nets_;
  std::vector<std::shared_ptr<TableList>> tables_;
};

// debug_peer_list with debug_peer_level (0 to 255), as smtpd and smtp read them.
struct DebugPeers {
  PeerList peers;
  int level = 2;
  static Result<DebugPeers> FromConfig(const config::Config& cfg);
  // The level for this peer: 0 unless it is listed.
  int LevelFor(std::string_view name, std::string_view addr) const { return peers.Matches(name, addr) ? level : 0; }
};

}  // namespace postern::table
