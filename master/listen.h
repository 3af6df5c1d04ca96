// master/listen.h — the sockets master opens for master.cf services: inet
// (`port`, `host:port`, `[host]:port`, on every inet_interfaces address) and
// unix (under $queue_directory/private or public). Workers inherit them.
#pragma once

#include <string>
#include <vector>

#include "postern/config/maincf.h"
#include "postern/config/mastercf.h"
#include "postern/event/event.h"
#include "postern/util/result.h"

namespace postern::master {

// Where one listener binds: "inet:127.0.0.1:2525", "inet:[::1]:2525",
// "unix:/var/spool/postern/private/qmgr". Equal keys mean the same socket,
// which is how a reload keeps unchanged listeners open.
struct ListenAddress {
  std::string key;
  int family = 0;                 // AF_INET, AF_INET6, AF_UNIX
  std::string host;               // numeric address (inet)
  int port = 0;
  std::string path;               // unix
};

// The addresses a service listens on; errors name the service.
Result<std::vector<ListenAddress>> ResolveListen(const config::MasterService& s, const config::Config& cfg);

// A bound, listening, non-blocking, close-on-exec socket; an invalid Fd when
// the kernel has no IPv6 (the address is skipped).
Result<Fd> OpenListener(const ListenAddress& a, int backlog);

// The length of a service's listen queue: listen_backlog (main.cf, or the
// service's -o); at 0, its default, the system's maximum (`somaxconn`), and
// never less than Postfix's own choice, the larger of maxproc and
// default_process_limit. A burst of connects then waits in the kernel for an
// smtpd that accepts thousands, instead of being dropped into SYN retries.
int ListenBacklog(const config::MasterService& s, const config::Config& cfg, int somaxconn);
// net.core.somaxconn (the kernel's cap on any listen queue); 4096 when unknown.
int SystemMaxBacklog();

}  // namespace postern::master
