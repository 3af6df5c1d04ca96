// qmgr/mta_view.h — what qmgr learns of remote servers from the connection facts
// its network transports report (ipc/delivery.h), for smtpctl's `show hosts|routes|relays`:
// per host address, per route (source → host) and per relay (next hop, port, TLS level)
// with one connector per source. No I/O: the clock comes in as an argument.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "postern/ipc/delivery.h"

namespace postern::qmgr {

// A destination queue of the active set: (transport, next hop).
using DestRef = std::pair<std::string, std::string>;

struct MtaHost {
  std::string name;      // the name it was reached under (MX host or relay)
  int refcount = 0;      // deliveries using a connection to it now
  uint64_t nconn = 0;    // new connections made to it
  uint64_t nreuse = 0;   // cached connections taken for a delivery
  uint64_t nfail = 0;    // connections that could not be made
  int64_t lastconn = 0;  // unix time of the last connection made or reused; 0: never
  int64_t seen = 0;      // the last fact about it
};

struct MtaRoute {
  std::string name;
  int refcount = 0;
  uint64_t nconn = 0;
  int penalty = 0;       // failed connections since the last one that worked
  int64_t lastconn = 0;  // 0: never connected (flag N)
  int64_t seen = 0;
  std::string error;     // why the last failed connection failed
  DestRef dest;          // the destination whose delivery used it last
};

struct MtaConnector {
  int refcount = 0;
  uint64_t nconn = 0, nfail = 0;
  int64_t lastconn = 0;
  int64_t seen = 0;
  bool failing = false;  // its last attempt failed and none worked since
};

struct MtaRelay {
  int refcount = 0;      // deliveries on a connection through it now
  uint64_t nconn = 0;
  int64_t lastconn = 0;
  int64_t seen = 0;
  DestRef dest;
  std::map<std::string, MtaConnector> connectors;  // by source address ("" = any)
};

// (source, address): source "" is "any" (no smtp_bind_address).
using RouteKey = std::pair<std::string, std::string>;

class MtaView {
 public:
  static constexpr int64_t kForgetAfter = 3600;  // idle seconds before an unused entry goes
  static constexpr size_t kMaxEntries = 4096;    // per table; the least recently seen go first

  // One fact from the delivery `job` (an id unique while it runs) for `dest`.
  // A delivery uses one connection at a time: a new one ends the use of the last.
  void Note(uint64_t job, const DestRef& dest, const std::string& transport, const ipc::ConnectionFact& c,
            int64_t now);
  // The delivery is over: the connection it used is no longer in use by it.
  void EndJob(uint64_t job, int64_t now);
  // Forgets what is unused and idle for kForgetAfter, then the oldest beyond kMaxEntries.
  void Expire(int64_t now);
  // `resume route`: a fresh start for the route (no penalty).
  MtaRoute* FindRoute(uint64_t id);
  void ClearPenalty(MtaRoute& r) { r.penalty = 0; r.error.clear(); }

  const std::map<std::string, MtaHost>& hosts() const { return hosts_; }
  const std::map<RouteKey, MtaRoute>& routes() const { return routes_; }
  const std::map<std::string, MtaRelay>& relays() const { return relays_; }

  // Stable across restarts: FNV-1a of the key (also used for destination ids).
  static uint64_t Id(std::string_view a, std::string_view b);
  static uint64_t RouteId(const RouteKey& k) { return Id(k.first, k.second); }
  // "[relay:example.com:25,smtp,tls=may]", "[relay:[192.0.2.7]:2525,relay,tls=encrypt]".
  static std::string RelayName(const std::string& transport, const ipc::ConnectionFact& c);
  // smtpctl's durations: "0s", "12s", "1m5s", "2h", "1d3h".
  static std::string Duration(int64_t seconds);

 private:
  struct Use {
    std::string host, relay, source;
    RouteKey route;
  };
  void Release(const Use& u);
  void Acquire(const Use& u);

  std::map<std::string, MtaHost> hosts_;
  std::map<RouteKey, MtaRoute> routes_;
  std::map<std::string, MtaRelay> relays_;
  std::map<uint64_t, Use> uses_;  // running deliveries and the connection each uses
  int64_t last_expire_ = 0;
};

}  // namespace postern::qmgr
