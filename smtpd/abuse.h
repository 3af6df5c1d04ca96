// smtpd/abuse.h — smtpd's defences before and around the dialogue: dropped
// clients (smtpd_drop_clients), the greeting delay and its early-talker cache
// (smtpd_greet_delay, dumb:ADDR in the policy cache) and Postfix's anvil
// limits, counted host-wide in stats::Anvil (the rates in a shared Redis
// policy cache when there is one). See smtpd(8), "ABUSE CONTROLS".
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "postern/config/maincf.h"
#include "postern/event/event.h"
#include "postern/stats/anvil.h"
#include "postern/table/table.h"
#include "postern/util/result.h"

namespace postern::cache {
class Cache;
}

namespace postern::smtpd {

// The tables of a kTables parameter; null when it is empty.
Result<std::shared_ptr<table::TableList>> OptionalTables(const config::Config& cfg, std::string_view param);
// A time parameter in seconds (a negative one as 0).
Result<uint64_t> ParamSeconds(const config::Config& cfg, std::string_view param);

// An address as smtpd shows and matches it (an IPv4-mapped IPv6 one as IPv4).
std::string SockAddrText(const sockaddr_storage& ss);
// The client address of a connected socket; "" for a unix socket.
std::string PeerAddress(int fd);
// What a client sent out of turn, as Postfix and postscreen log it: the first
// 100 bytes, control characters escaped C style.
std::string EscapedInput(std::string_view data);

struct AbuseSettings {
  uint64_t greet_delay_ms = 0;  // smtpd_greet_delay; 0: off
  std::shared_ptr<table::TableList> greet_delay_maps;  // network → longer delay
  bool greet_drop = false;        // smtpd_greet_action = drop (else reject)
  uint64_t greet_ttl = 86400;     // seconds a dumb: record lives
  std::shared_ptr<table::TableList> drop_clients;
  // Postfix's anvil limits (0: none) over anvil_rate_time_unit seconds.
  long long conn_rate = 0, mail_rate = 0, rcpt_rate = 0, newtls_rate = 0, auth_rate = 0;
  uint64_t rate_unit = 60;
  bool AnyRate() const { return conn_rate || mail_rate || rcpt_rate || newtls_rate || auth_rate; }
  // The greeting delay is on (it keeps dumb: records in the policy cache).
  bool GreetDelayed() const { return greet_delay_ms > 0 || greet_delay_maps; }

  static Result<AbuseSettings> Load(const config::Config& cfg);
};

// The greeting delay a client gets: nullopt when a table failed (no delay then).
std::optional<uint64_t> GreetDelayMs(const AbuseSettings& s, std::string_view addr);

// The process's anvil handle for the checks, opened at its first use (a
// process that never needs it never creates its file); a failure is one
// warning a minute, and the check then lets the client through, as Postfix's
// smtpd does without anvil. The greeting delay's dumb: records live in the
// process's one policy cache (Service::cache(), LMDB or Redis); with Redis the
// rates live there too (anvil:KIND:ADDR), so that MX hosts count together,
// while connection counts stay the host's: a killed smtpd's connections
// stop counting at once, which a shared count could do only when a lease
// of the dead process expired.
class Guard {
 public:
  Guard(uv_loop_t* loop, const config::Config& cfg);
  Guard(const Guard&) = delete;

  // smtpd_drop_clients lists addr (a table that fails drops nobody).
  bool Drop(const AbuseSettings& s, std::string_view addr);
  // Host-wide connections from addr including this one; nullopt: unknown.
  std::optional<uint64_t> Connect(std::string_view addr);
  void Disconnect(std::string_view addr);
  // One more event of kind from addr: the count in the current window, in
  // `count` at once (returns true), or later through `later` (returns false;
  // a shared Redis counter). nullopt: unknown (the client goes on).
  using RateDone = std::function<void(std::optional<uint64_t>)>;
  bool Rate(std::string_view kind, std::string_view addr, uint64_t unit, std::optional<uint64_t>* count,
            RateDone later);
  // Rates go to this Redis policy cache from now on (null: the host's anvil).
  void Share(cache::Cache* c) { shared_ = c; }

 private:
  stats::Anvil* anvil();

  uv_loop_t* loop_;
  std::string anvil_path_;
  std::unique_ptr<stats::Anvil> anvil_;
  bool anvil_tried_ = false;
  uint64_t sweep_unit_ = 60;
  std::unique_ptr<event::Timer> sweep_;
  cache::Cache* shared_ = nullptr;
};

}  // namespace postern::smtpd
