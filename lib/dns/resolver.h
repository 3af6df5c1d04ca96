// dns/resolver.h — asynchronous DNS for postern's workers: c-ares driven by
// the process's libuv loop (uv_poll per c-ares socket, one uv_timer for its
// timeouts). One Resolver per process. Every callback runs later on the loop,
// never inside the call that started the lookup; a Ticket cancels it.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "postern/dns/address.h"
#include "postern/dns/answer.h"
#include "postern/dns/hosts.h"
#include "postern/event/event.h"
#include "postern/util/result.h"

struct ares_channeldata;

namespace postern::config {
class Config;
}

namespace postern::dns {

// How a lookup ended. `reason` is Postfix's wording for logs and DSNs;
// `detail` is c-ares' own ("Timeout while contacting DNS servers").
struct Outcome {
  Status status = Status::kOk;
  std::string reason;
  std::string detail;
  bool ok() const { return status == Status::kOk; }
  bool temporary() const { return status == Status::kTempFail; }
  bool permanent() const { return !ok() && !temporary(); }
};

struct AddressResult {
  Outcome outcome;
  std::vector<IpAddress> addresses;  // IPv4 first, then IPv6, as inet_protocols allows
  bool authentic = false;            // every answer carried the AD bit
  uint32_t ttl = 0;                  // seconds it may be cached (AnswerTtl; the smallest of A and AAAA)
};

struct MxHost {
  std::string name;
  uint16_t preference = 0;
  Outcome outcome;  // of this exchanger's address lookup
  std::vector<IpAddress> addresses;
  bool authentic = false;
};

struct MxResult {
  // ok when at least one exchanger has an address. Permanent: NXDOMAIN, null
  // MX, no address for any exchanger. Temporary: SERVFAIL/timeout of the MX
  // lookup, or no address found while some exchanger lookup failed temporarily.
  Outcome outcome;
  bool null_mx = false;   // RFC 7505 "MX 0 ." (bounce with 5.1.10)
  bool implicit = false;  // no MX records: the domain itself, preference 0
  bool authentic = false;  // the MX answer carried the AD bit
  std::vector<MxHost> hosts;  // RFC 5321 order: preference, ties shuffled
};

// TXT (one string per record, its strings joined) or NS (host names).
struct RecordsResult {
  Outcome outcome;
  std::vector<std::string> records;
  uint32_t ttl = 0;  // seconds it may be cached (AnswerTtl)
};
using TxtResult = RecordsResult;
using NsResult = RecordsResult;

struct TlsaResult {
  Outcome outcome;
  std::vector<Tlsa> records;
  bool authentic = false;
};

struct PtrResult {
  Outcome outcome;
  std::vector<std::string> names;
};

struct ConfirmedNameResult {
  // ok: `name` is a PTR name whose addresses include the address asked about.
  // Temporary when a lookup on the way failed temporarily (Postfix's 450 for
  // reject_unknown_client_hostname), otherwise permanent.
  Outcome outcome;
  std::string reverse_name;  // first PTR name ("" if none): Postfix's reverse_client_name
  std::string name;          // forward-confirmed name ("" if none): Postfix's client_name
};

// Cancels a lookup's callback when destroyed or when Cancel() is called.
// Hold it where the callback's captures live (e.g. in the session object).
class [[nodiscard]] Ticket {
 public:
  struct State {
    bool cancelled = false;
    bool done = false;
  };
  Ticket() = default;
  explicit Ticket(std::shared_ptr<State> s) : state_(std::move(s)) {}
  ~Ticket() { Cancel(); }
  Ticket(Ticket&&) noexcept = default;
  Ticket& operator=(Ticket&& o) noexcept {
    if (this != &o) {
      Cancel();
      state_ = std::move(o.state_);
    }
    return *this;
  }
  Ticket(const Ticket&) = delete;
  Ticket& operator=(const Ticket&) = delete;
  void Cancel() {
    if (state_) state_->cancelled = true;
    state_.reset();
  }
  bool pending() const { return state_ && !state_->done && !state_->cancelled; }

 private:
  std::shared_ptr<State> state_;
};

struct ResolverOptions {
  struct Server {
    IpAddress ip;
    uint16_t port = 53;
  };
  std::vector<Server> servers;  // empty: those of /etc/resolv.conf
  bool ipv4 = true;             // inet_protocols: which address records to ask for
  bool ipv6 = true;
  int timeout_ms = 0;  // per try; 0: resolv.conf's (c-ares default 5 s)
  int tries = 0;       // 0: resolv.conf's (c-ares default 4)
  // Read before DNS for a client's name (LookupConfirmedName); "": none.
  std::string hosts_file = "/etc/hosts";

  // dns_servers and inet_protocols from main.cf.
  static Result<ResolverOptions> FromConfig(const config::Config& cfg);
  // "192.0.2.1", "192.0.2.1:5353", "2001:db8::1", "[2001:db8::1]:5353".
  static Result<std::vector<Server>> ParseServers(const std::vector<std::string>& list);
  // inet_protocols: "all", or any of "ipv4", "ipv6".
  static Result<void> ParseProtocols(const std::vector<std::string>& list, ResolverOptions* out);
};

class Resolver {
 public:
  static Result<std::unique_ptr<Resolver>> Create(uv_loop_t* loop, const ResolverOptions& options);
  // Pending callbacks are dropped, never called.
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // A and/or AAAA (per inet_protocols). An IP literal answers itself.
  Ticket LookupAddresses(std::string_view host, std::function<void(AddressResult)> done);
  // MX, ordered, with every exchanger's addresses; implicit MX and null MX.
  Ticket LookupMx(std::string_view domain, std::function<void(MxResult)> done);
  Ticket LookupTxt(std::string_view name, std::function<void(TxtResult)> done);
  Ticket LookupNs(std::string_view domain, std::function<void(NsResult)> done);
  // e.g. "_25._tcp.mx.example.org".
  Ticket LookupTlsa(std::string_view name, std::function<void(TlsaResult)> done);
  Ticket LookupPtr(const IpAddress& addr, std::function<void(PtrResult)> done);
  // The hosts file's names of addr if it lists addr (no DNS, as the C
  // library's getnameinfo); else PTR, then the addresses of each PTR name (of
  // addr's family): the first name that maps back to addr is confirmed.
  Ticket LookupConfirmedName(const IpAddress& addr, std::function<void(ConfirmedNameResult)> done);

  const ResolverOptions& options() const { return options_; }
  // Queries on the wire plus those waiting for a slot.
  size_t queries_in_flight() const { return in_flight_ + waiting_.size(); }

  // Queries on the wire at once. A burst beyond what a resolver's socket
  // buffer holds is dropped by the kernel and only comes back as timeouts;
  // the rest wait in order and go out as answers come in.
  static constexpr size_t kMaxInFlight = 64;

 private:
  // One finished query, as the lookups see it.
  struct Raw {
    Status status = Status::kTempFail;
    std::span<const uint8_t> answer;  // valid only during the callback
    bool authentic = false;
    std::string detail;  // RCODE name or c-ares' error text
  };
  using RawFn = std::function<void(const Raw&)>;
  using StatePtr = std::shared_ptr<Ticket::State>;
  struct Sent {
    Resolver* resolver;
    RawFn fn;
  };
  struct Waiting {
    std::vector<uint8_t> query;
    std::unique_ptr<Sent> sent;
  };

  Resolver(uv_loop_t* loop, const ResolverOptions& options);
  Result<void> Init();

  // One query on the wire; fn runs inside c-ares' processing.
  void Send(const std::string& name, RrType type, RawFn fn);
  void Pump();  // moves waiting queries onto the wire while slots are free
  static void OnAnswer(void* arg, int status, int timeouts, unsigned char* abuf, int alen);
  static void OnSockState(void* data, int fd, int readable, int writable);
  static void OnPoll(uv_poll_t* h, int status, int events);
  void Rearm();

  // Queues a user callback for the idle handle unless its ticket was cancelled.
  void Deliver(const StatePtr& st, std::function<void()> call);
  void Drain();

  Ticket LookupRecords(std::string_view name, RrType type, Parsed<std::string> (*parse)(std::span<const uint8_t>),
                       std::function<void(RecordsResult)> done);
  void ResolveAddresses(const std::string& name, bool v4, bool v6, const StatePtr& st,
                        std::function<void(AddressResult)> done);
  void OnMxAnswer(const std::string& domain, const Raw& raw, const StatePtr& st,
                  std::function<void(MxResult)> done);
  void ResolveExchangers(std::shared_ptr<MxResult> result, const StatePtr& st,
                         std::function<void(MxResult)> done);
  void ConfirmNames(const IpAddress& addr, std::vector<std::string> names, const StatePtr& st,
                    std::function<void(ConfirmedNameResult)> done);

  uv_loop_t* loop_;
  ResolverOptions options_;
  HostsFile hosts_;
  ares_channeldata* channel_ = nullptr;
  bool destroying_ = false;
  size_t in_flight_ = 0;
  event::Handle<uv_timer_t> timer_;
  event::Handle<uv_idle_t> idle_;
  std::map<int, event::Handle<uv_poll_t>> polls_;
  std::vector<std::function<void()>> ready_;
  std::deque<Waiting> waiting_;
  std::shared_ptr<int> life_ = std::make_shared<int>(0);  // expires with *this
  std::mt19937 rng_;
};

}  // namespace postern::dns
