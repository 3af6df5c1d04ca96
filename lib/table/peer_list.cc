// table/peer_list.cc — matching a peer against a debug_peer_list-style list;
// see peer_list.h.
#include "postern/table/peer_list.h"

#include "postern/util/strings.h"

namespace postern::table {

Result<PeerList> PeerList::Parse(const std::vector<std::string>& entries) {
  PeerList l;
  for (const std::string& e : entries) {
    if (e.empty()) continue;
    std::string why;
    if (auto net = ParseNetwork(e, &why)) {
      l.nets_.push_back(*net);
    } else if (e.find(':') != std::string::npos && e.front() != '[') {
      auto t = TableList::Open(e);
      if (!t) return Err(e + ": " + t.error());
      l.tables_.push_back(std::make_shared<TableList>(std::move(*t)));
    } else if (e.front() == '[' || e.find('/') != std::string::npos) {
      return Err(e + ": " + why);
    } else {
      l.names_.push_back(ToLower(e.front() == '.' ? e.substr(1) : e));
    }
  }
  return l;
}

bool PeerList::Matches(std::string_view name, std::string_view addr) const {
  for (const std::string& n : names_) {
    if (EqualsIgnoreCase(name, n)) return true;
    // parent_domain_matches_subdomains includes debug_peer_list in Postfix.
    if (name.size() > n.size() && name[name.size() - n.size() - 1] == '.' &&
        EqualsIgnoreCase(name.substr(name.size() - n.size()), n))
      return true;
  }
  if (auto host = ParseAddress(addr)) {
    for (const Network& net : nets_)
      if (NetworkContains(net, *host)) return true;
  }
  for (const auto& t : tables_) {
    auto r = LookupClient(*t, name, addr);
    if (r && r->has_value()) return true;
  }
  return false;
}

Result<DebugPeers> DebugPeers::FromConfig(const config::Config& cfg) {
  auto list = cfg.GetList("debug_peer_list");
  if (!list) return Err(list.error());
  auto level = cfg.GetInt("debug_peer_level");
  if (!level) return Err(level.error());
  if (*level < 0 || *level > 255) return Err("debug_peer_level: must be 0 to 255");
  auto peers = PeerList::Parse(*list);
  if (!peers) return Err("debug_peer_list: " + peers.error());
  return DebugPeers{std::move(*peers), int(*level)};
}

}  // namespace postern::table
