// smtpd/abuse.cc — the abuse controls' settings and the process's anvil
// handle; the session side is in session_abuse.cc.
#include "smtpd/abuse.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>

#include <fmt/format.h>

#include "postern/config/values.h"
#include "postern/log/limited.h"
#include "postern/log/log.h"
#include "postern/stats/policy_cache.h"

namespace postern::smtpd {

std::string SockAddrText(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
  } else if (ss.ss_family == AF_INET6) {
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    // An IPv4 client on a dual-stack socket is shown (and matched) as IPv4.
    if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr))
      inet_ntop(AF_INET, &a6->sin6_addr.s6_addr[12], buf, sizeof buf);
    else
      inet_ntop(AF_INET6, &a6->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

std::string PeerAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "";
  return SockAddrText(ss);
}

std::string EscapedInput(std::string_view data) {
  std::string out;
  for (unsigned char ch : data.substr(0, 100)) {
    if (ch == '\r') out += "\\r";
    else if (ch == '\n') out += "\\n";
    else if (ch == '\t') out += "\\t";
    else if (ch < 0x20 || ch == 0x7f) out += fmt::format("\\{:03o}", ch);
    else out += char(ch);
  }
  return out;
}

Result<std::shared_ptr<table::TableList>> OptionalTables(const config::Config& cfg, std::string_view param) {
  auto refs = cfg.GetTables(param);
  if (!refs) return Err(refs.error());
  if (refs->empty()) return std::shared_ptr<table::TableList>();
  auto list = table::TableList::Open(*refs);
  if (!list) return Err(std::string(param) + ": " + list.error());
  return std::make_shared<table::TableList>(std::move(*list));
}

Result<uint64_t> ParamSeconds(const config::Config& cfg, std::string_view param) {
  auto t = cfg.GetTime(param);
  if (!t) return Err(t.error());
  return uint64_t(std::max<long long>(0, t->count()));
}

namespace {

Result<void> LoadRates(const config::Config& cfg, AbuseSettings* s) {
  std::pair<const char*, long long*> rates[] = {
      {"smtpd_client_connection_rate_limit", &s->conn_rate},
      {"smtpd_client_message_rate_limit", &s->mail_rate},
      {"smtpd_client_recipient_rate_limit", &s->rcpt_rate},
      {"smtpd_client_new_tls_session_rate_limit", &s->newtls_rate},
      {"smtpd_client_auth_rate_limit", &s->auth_rate}};
  for (auto [name, out] : rates) {
    auto v = cfg.GetInt(name);
    if (!v) return Err(v.error());
    if (*v < 0) return Err(std::string(name) + ": must be at least 0");
    *out = *v;
  }
  auto unit = ParamSeconds(cfg, "anvil_rate_time_unit");
  if (!unit) return Err(unit.error());
  if (*unit == 0) return Err("anvil_rate_time_unit: must be more than 0");
  s->rate_unit = *unit;
  return {};
}

}  // namespace

Result<AbuseSettings> AbuseSettings::Load(const config::Config& cfg) {
  AbuseSettings s;
  auto delay = ParamSeconds(cfg, "smtpd_greet_delay");
  auto ttl = ParamSeconds(cfg, "smtpd_greet_ttl");
  auto action = cfg.Get("smtpd_greet_action");
  auto maps = OptionalTables(cfg, "smtpd_greet_delay_maps");
  auto drop = OptionalTables(cfg, "smtpd_drop_clients");
  if (!delay) return Err(delay.error());
  if (!ttl) return Err(ttl.error());
  if (!action) return Err(action.error());
  if (!maps) return Err(maps.error());
  if (!drop) return Err(drop.error());
  if (*action != "reject" && *action != "drop")
    return Err("smtpd_greet_action: \"" + *action + "\" is not reject or drop");
  s.greet_delay_ms = *delay * 1000;
  s.greet_ttl = *ttl;
  s.greet_drop = *action == "drop";
  s.greet_delay_maps = std::move(*maps);
  s.drop_clients = std::move(*drop);
  if (auto r = LoadRates(cfg, &s); !r) return Err(r.error());
  return s;
}

std::optional<uint64_t> GreetDelayMs(const AbuseSettings& s, std::string_view addr) {
  if (!s.greet_delay_maps) return s.greet_delay_ms;
  auto r = s.greet_delay_maps->Lookup(addr);
  if (!r) {
    static log::LimitedWarning w(std::chrono::minutes(1));
    w.Warn("smtpd_greet_delay_maps: {}", r.error());
    return std::nullopt;
  }
  if (!r->has_value()) return s.greet_delay_ms;
  auto t = config::ParseTime(**r);
  if (!t) {
    static log::LimitedWarning w(std::chrono::minutes(1));
    w.Warn("smtpd_greet_delay_maps: bad delay \"{}\" for {}", **r, addr);
    return s.greet_delay_ms;
  }
  return uint64_t(t->count()) * 1000;
}

Guard::Guard(uv_loop_t* loop, const config::Config& cfg)
    : loop_(loop), anvil_path_(cfg.Str("anvil_database")) {
  auto unit = cfg.GetTime("anvil_rate_time_unit");
  if (unit && unit->count() > 0) sweep_unit_ = uint64_t(unit->count());
}

bool Guard::Drop(const AbuseSettings& s, std::string_view addr) {
  if (!s.drop_clients || addr.empty()) return false;
  auto r = s.drop_clients->Lookup(addr);
  if (!r) {
    static log::LimitedWarning w(std::chrono::minutes(1));
    w.Warn("smtpd_drop_clients: {}", r.error());
    return false;
  }
  return r->has_value();
}

stats::Anvil* Guard::anvil() {
  if (anvil_tried_) return anvil_.get();
  anvil_tried_ = true;
  auto a = stats::Anvil::Open(anvil_path_);
  if (!a) {
    log::Warning("anvil database {}: {}; connection and rate limits are not enforced", anvil_path_, a.error());
    return nullptr;
  }
  anvil_ = std::move(*a);
  // What an earlier process with this pid left behind is not ours.
  if (auto r = anvil_->ForgetProcess(getpid()); !r) log::Warning("anvil: {}", r.error());
  sweep_ = std::make_unique<event::Timer>(loop_);
  sweep_->Start(sweep_unit_ * 1000, sweep_unit_ * 1000, [this] {
    if (auto r = anvil_->Sweep(sweep_unit_, std::time(nullptr)); !r) log::Warning("anvil: {}", r.error());
  });
  return anvil_.get();
}

namespace {

template <class T>
std::optional<T> Logged(Result<T> r, std::string_view what) {
  if (r) return std::move(*r);
  static log::LimitedWarning w(std::chrono::minutes(1));
  w.Warn("{}: {}", what, r.error());
  return std::nullopt;
}

}  // namespace

std::optional<uint64_t> Guard::Connect(std::string_view addr) {
  auto* a = anvil();
  if (!a) return std::nullopt;
  return Logged(a->Connect(addr, getpid()), "anvil");
}

void Guard::Disconnect(std::string_view addr) {
  if (auto* a = anvil()) {
    if (auto r = a->Disconnect(addr, getpid()); !r) Logged(Result<bool>(Err(r.error())), "anvil");
  }
}

bool Guard::Rate(std::string_view kind, std::string_view addr, uint64_t unit, std::optional<uint64_t>* count,
                 RateDone later) {
  if (!shared_) {
    auto* a = anvil();
    *count = a ? Logged(a->Rate(kind, addr, unit, std::time(nullptr)), "anvil") : std::nullopt;
    return true;
  }
  // A Redis record counted from its first hit, expiring after `unit`: anvil's window.
  auto inline_answer = std::make_shared<std::optional<std::optional<uint64_t>>>();
  auto waiting = std::make_shared<bool>(true);
  std::string key = "anvil:" + std::string(kind) + ":" + std::string(addr);
  shared_->Hit(std::move(key), "", unit, [inline_answer, waiting, later](Result<cache::Record> r) {
    std::optional<uint64_t> n = r ? std::optional<uint64_t>(r->hits) : Logged<uint64_t>(Err(r.error()), "anvil (redis)");
    if (*waiting) *inline_answer = n;
    else later(n);
  });
  *waiting = false;
  if (!inline_answer->has_value()) return false;
  *count = **inline_answer;
  return true;
}

}  // namespace postern::smtpd
