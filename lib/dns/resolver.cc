// dns/resolver.cc — the Resolver's engine: c-ares channel set-up, uv_poll per
// c-ares socket (via ARES_OPT_SOCK_STATE_CB, which c-ares 1.18 has), one timer
// for c-ares' timeouts, and user callbacks deferred to an idle handle so they
// never run inside c-ares or inside the call that started a lookup.
#include "postern/dns/resolver.h"

#include <ares.h>

#include <cstring>
#include <utility>

#include "postern/config/maincf.h"
#include "postern/util/strings.h"

namespace postern::dns {

namespace {

constexpr int kClassIn = 1;

std::string_view RcodeText(std::span<const uint8_t> answer) {
  if (answer.size() < 4) return "short reply";
  switch (answer[3] & 0x0F) {
    case 0: return "NOERROR";
    case 1: return "FORMERR";
    case 2: return "SERVFAIL";
    case 3: return "NXDOMAIN";
    case 4: return "NOTIMP";
    case 5: return "REFUSED";
    default: return "unexpected RCODE";
  }
}

}  // namespace

// ---- options ------------------------------------------------------------

Result<std::vector<ResolverOptions::Server>> ResolverOptions::ParseServers(
    const std::vector<std::string>& list) {
  std::vector<Server> out;
  for (const auto& item : list) {
    std::string_view s = item, host = item, port;
    if (s.starts_with('[')) {
      auto close = s.find(']');
      if (close == s.npos) return Err("dns_servers: missing ] in \"" + item + "\"");
      host = s.substr(1, close - 1);
      std::string_view rest = s.substr(close + 1);
      if (!rest.empty()) {
        if (rest[0] != ':') return Err("dns_servers: expected :port after ] in \"" + item + "\"");
        port = rest.substr(1);
      }
    } else if (s.find(':') == s.rfind(':') && s.find(':') != s.npos) {
      // Exactly one colon: ipv4:port. More than one is a bare IPv6 address.
      host = s.substr(0, s.find(':'));
      port = s.substr(s.find(':') + 1);
    }
    auto ip = IpAddress::Parse(host);
    if (!ip) return Err("dns_servers: \"" + item + "\" is not an IP address (ip, ip:port or [ipv6]:port)");
    Server srv{*ip, 53};
    if (!port.empty() || s.ends_with(':')) {
      unsigned long long p = 0;
      if (!ParseUnsigned(port, &p) || p == 0 || p > 65535)
        return Err("dns_servers: bad port in \"" + item + "\"");
      srv.port = static_cast<uint16_t>(p);
    }
    out.push_back(srv);
  }
  return out;
}

Result<void> ResolverOptions::ParseProtocols(const std::vector<std::string>& list,
                                             ResolverOptions* out) {
  bool v4 = false, v6 = false;
  for (const auto& p : list) {
    if (EqualsIgnoreCase(p, "all")) {
      v4 = v6 = true;
    } else if (EqualsIgnoreCase(p, "ipv4")) {
      v4 = true;
    } else if (EqualsIgnoreCase(p, "ipv6")) {
      v6 = true;
    } else {
      return Err("inet_protocols: unknown protocol \"" + p + "\" (use ipv4, ipv6 or all)");
    }
  }
  if (!v4 && !v6) return Err("inet_protocols: no protocol given (use ipv4, ipv6 or all)");
  out->ipv4 = v4;
  out->ipv6 = v6;
  return {};
}

Result<ResolverOptions> ResolverOptions::FromConfig(const config::Config& cfg) {
  ResolverOptions o;
  auto servers = cfg.GetList("dns_servers");
  if (!servers) return Err(servers.error());
  auto parsed = ParseServers(*servers);
  if (!parsed) return Err(parsed.error());
  o.servers = std::move(*parsed);
  auto protocols = cfg.GetList("inet_protocols");
  if (!protocols) return Err(protocols.error());
  if (auto r = ParseProtocols(*protocols, &o); !r) return Err(r.error());
  return o;
}

// ---- life ---------------------------------------------------------------

Resolver::Resolver(uv_loop_t* loop, const ResolverOptions& options)
    : loop_(loop), options_(options), hosts_(options.hosts_file), rng_(std::random_device{}()) {}

Result<std::unique_ptr<Resolver>> Resolver::Create(uv_loop_t* loop, const ResolverOptions& options) {
  std::unique_ptr<Resolver> r(new Resolver(loop, options));
  if (auto ok = r->Init(); !ok) return Err(ok.error());
  return r;
}

Result<void> Resolver::Init() {
  if (uv_timer_init(loop_, timer_.get()) != 0) {
    timer_.Abandon();
    return Err("cannot create the DNS timer");
  }
  timer_.get()->data = this;
  if (uv_idle_init(loop_, idle_.get()) != 0) {
    idle_.Abandon();
    return Err("cannot create the DNS idle handle");
  }
  idle_.get()->data = this;

  ares_options opts{};
  int mask = ARES_OPT_SOCK_STATE_CB;
  opts.sock_state_cb = OnSockState;
  opts.sock_state_cb_data = this;
  if (options_.timeout_ms > 0) {
    opts.timeout = options_.timeout_ms;
    mask |= ARES_OPT_TIMEOUTMS;
  }
  if (options_.tries > 0) {
    opts.tries = options_.tries;
    mask |= ARES_OPT_TRIES;
  }
  ares_channel ch = nullptr;
  int rc = ares_init_options(&ch, &opts, mask);
  if (rc != ARES_SUCCESS) return Err(std::string("cannot initialise the DNS resolver: ") + ares_strerror(rc));
  channel_ = ch;

  if (!options_.servers.empty()) {
    std::vector<ares_addr_port_node> nodes(options_.servers.size());
    for (size_t i = 0; i < nodes.size(); ++i) {
      const auto& s = options_.servers[i];
      nodes[i].next = i + 1 < nodes.size() ? &nodes[i + 1] : nullptr;
      nodes[i].family = s.ip.family();
      std::memcpy(&nodes[i].addr, s.ip.bytes(), s.ip.size());
      nodes[i].udp_port = nodes[i].tcp_port = s.port;
    }
    rc = ares_set_servers_ports(channel_, nodes.data());
    if (rc != ARES_SUCCESS) return Err(std::string("cannot set dns_servers: ") + ares_strerror(rc));
  }
  return {};
}

Resolver::~Resolver() {
  destroying_ = true;
  // Answers every query with ARES_EDESTRUCTION (OnAnswer drops them) and
  // reports each socket closed (OnSockState closes its poll handle).
  if (channel_) ares_destroy(channel_);
  polls_.clear();
  ready_.clear();
  waiting_.clear();
}

// ---- c-ares on the loop -------------------------------------------------

void Resolver::Send(const std::string& name, RrType type, RawFn fn) {
  unsigned char* query = nullptr;
  int len = 0;
  int rc = ares_create_query(name.c_str(), kClassIn, static_cast<int>(type), 0, 1, &query, &len, 0);
  if (rc != ARES_SUCCESS) {
    Raw raw;
    raw.status = StatusFromAres(rc);
    raw.detail = ares_strerror(rc);
    fn(raw);
    return;
  }
  // AD in a query asks the resolver to say whether it validated the answer
  // (RFC 6840 5.7); DANE needs to know. c-ares' ares_query cannot set it.
  query[3] |= 0x20;
  waiting_.push_back(Waiting{std::vector<uint8_t>(query, query + len),
                             std::make_unique<Sent>(Sent{this, std::move(fn)})});
  ares_free_string(query);
  Pump();
}

void Resolver::Pump() {
  while (!waiting_.empty() && in_flight_ < kMaxInFlight && !destroying_) {
    Waiting w = std::move(waiting_.front());
    waiting_.pop_front();
    ++in_flight_;
    ares_send(channel_, w.query.data(), static_cast<int>(w.query.size()), OnAnswer, w.sent.release());
  }
  Rearm();
}

void Resolver::OnAnswer(void* arg, int status, int timeouts, unsigned char* abuf, int alen) {
  std::unique_ptr<Sent> sent(static_cast<Sent*>(arg));
  Resolver* self = sent->resolver;
  --self->in_flight_;
  if (status == ARES_EDESTRUCTION || self->destroying_) return;
  self->Pump();
  Raw raw;
  if (status == ARES_SUCCESS && abuf && alen > 0) {
    raw.answer = std::span<const uint8_t>(abuf, static_cast<size_t>(alen));
    raw.status = StatusFromHeader(raw.answer);
    raw.authentic = IsAuthentic(raw.answer);
    raw.detail = RcodeText(raw.answer);
  } else {
    raw.status = StatusFromAres(status);
    raw.detail = ares_strerror(status);
  }
  sent->fn(raw);
}

void Resolver::OnSockState(void* data, int fd, int readable, int writable) {
  auto* self = static_cast<Resolver*>(data);
  if (!readable && !writable) {
    self->polls_.erase(fd);  // before c-ares closes fd, so the loop never polls a stale fd
    return;
  }
  auto it = self->polls_.find(fd);
  if (it == self->polls_.end()) {
    event::Handle<uv_poll_t> h;
    if (uv_poll_init_socket(self->loop_, h.get(), fd) != 0) {
      h.Abandon();  // the timer still ends the query with a timeout
      return;
    }
    h.get()->data = self;
    it = self->polls_.emplace(fd, std::move(h)).first;
  }
  int events = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);
  uv_poll_start(it->second.get(), events, OnPoll);
}

void Resolver::OnPoll(uv_poll_t* h, int status, int events) {
  auto* self = static_cast<Resolver*>(h->data);
  if (!self) return;
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(h), &fd) != 0) return;
  // On a poll error let c-ares read and write: it then sees the socket's
  // error itself and moves the query to the next server.
  bool err = status < 0;
  ares_process_fd(self->channel_, (err || (events & UV_READABLE)) ? fd : ARES_SOCKET_BAD,
                  (err || (events & UV_WRITABLE)) ? fd : ARES_SOCKET_BAD);
  self->Rearm();
}

void Resolver::Rearm() {
  if (destroying_) return;
  timeval tv;
  timeval* next = ares_timeout(channel_, nullptr, &tv);
  if (!next) {
    uv_timer_stop(timer_.get());
    return;
  }
  uint64_t ms = static_cast<uint64_t>(next->tv_sec) * 1000 + (next->tv_usec + 999) / 1000;
  uv_timer_start(
      timer_.get(),
      [](uv_timer_t* t) {
        auto* self = static_cast<Resolver*>(t->data);
        if (!self) return;
        ares_process_fd(self->channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
        self->Rearm();
      },
      ms, 0);
}

// ---- delivery -----------------------------------------------------------

void Resolver::Deliver(const StatePtr& st, std::function<void()> call) {
  if (st->cancelled) return;
  ready_.push_back([st, call = std::move(call)] {
    if (st->cancelled || st->done) return;
    st->done = true;
    call();
  });
  uv_idle_start(idle_.get(), [](uv_idle_t* h) {
    if (auto* self = static_cast<Resolver*>(h->data)) self->Drain();
  });
}

void Resolver::Drain() {
  auto batch = std::move(ready_);
  ready_.clear();
  uv_idle_stop(idle_.get());
  std::weak_ptr<int> alive = life_;
  for (auto& call : batch) {
    call();
    if (alive.expired()) return;  // a callback destroyed the resolver
  }
}

}  // namespace postern::dns
