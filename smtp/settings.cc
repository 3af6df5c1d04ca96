// smtp/settings.cc — reads the client's parameters with Postfix's smtp_/lmtp_
// names; see settings.h.
#include "smtp/settings.h"

#include <string_view>
#include <tuple>
#include <utility>

#include "postern/util/strings.h"

namespace postern::smtp_client {

// Postfix calls LMTP's greeting phase "lhlo" where SMTP says "helo".
std::string ParamName(bool lmtp, std::string_view smtp_name) {
  if (!lmtp) return std::string(smtp_name);
  std::string n = "lmtp_" + std::string(smtp_name.substr(5));
  if (n == "lmtp_helo_name") return "lmtp_lhlo_name";
  if (n == "lmtp_helo_timeout") return "lmtp_lhlo_timeout";
  return n;
}

namespace {

// What shapes the content on the wire: line length and MIME conversion.
Result<void> LoadContent(const config::Config& cfg, bool lmtp, Settings* s) {
  for (auto [name, out, min] : {std::tuple{ParamName(lmtp, "smtp_line_length_limit"), &s->text_line_limit, 0LL},
                                std::tuple{std::string("mime_nesting_limit"), &s->mime_limits.nesting, 1LL},
                                std::tuple{std::string("mime_boundary_length_limit"), &s->mime_limits.boundary,
                                           1LL}}) {
    auto v = cfg.GetInt(name);
    if (!v) return Err(v.error());
    if (*v < min) return Err(name + ": must be at least " + std::to_string(min));
    *out = size_t(*v);
  }
  auto off = cfg.GetBool("disable_mime_output_conversion");
  if (!off) return Err(off.error());
  s->mime_output_conversion = !*off;
  auto checks = cleanup::CheckTables::Load(cfg, lmtp ? "lmtp_" : "smtp_");
  if (!checks) return Err(checks.error());
  s->checks = std::move(*checks);
  return {};
}

Result<std::shared_ptr<table::TableList>> OpenTables(const config::Config& cfg, const std::string& name) {
  auto refs = cfg.GetTables(name);
  if (!refs) return Err(refs.error());
  if (refs->empty()) return std::shared_ptr<table::TableList>();
  auto t = table::TableList::Open(*refs);
  if (!t) return Err(name + ": " + t.error());
  return std::make_shared<table::TableList>(std::move(*t));
}

}  // namespace

// The PIX workaround names of smtp_pix_workarounds or a smtp_pix_workaround_maps value.
Result<void> ParsePixWorkarounds(std::string_view text, bool* disable_esmtp, bool* delay_dotcrlf) {
  *disable_esmtp = *delay_dotcrlf = false;
  for (std::string_view w : SplitList(text)) {
    if (EqualsIgnoreCase(w, "disable_esmtp")) *disable_esmtp = true;
    else if (EqualsIgnoreCase(w, "delay_dotcrlf")) *delay_dotcrlf = true;
    else return Err("unknown PIX workaround \"" + std::string(w) + "\" (use disable_esmtp, delay_dotcrlf)");
  }
  return {};
}

// The rest of smtp(8)'s behaviour switches (issue 22).
Result<void> Settings::LoadBehaviour(const config::Config& cfg) {
  auto name = [this](std::string_view n) { return ParamName(lmtp, n); };
  for (auto [n, out] : {std::pair{name("smtp_quote_rfc821_envelope"), &quote_rfc821_envelope},
                        std::pair{name("smtp_send_xforward_command"), &send_xforward},
                        std::pair{name("smtp_per_record_deadline"), &per_record_deadline}}) {
    auto v = cfg.GetBool(n);
    if (!v) return Err(v.error());
    *out = *v;
  }
  auto reuse = cfg.GetInt(name("smtp_connection_reuse_count_limit"));
  if (!reuse) return Err(reuse.error());
  if (*reuse < 0) return Err(name("smtp_connection_reuse_count_limit") + ": must not be negative");
  reuse_count_limit = *reuse;
  auto filter = OpenTables(cfg, name("smtp_delivery_status_filter"));
  if (!filter) return Err(filter.error());
  status_filter = std::move(*filter);
  auto pref = cfg.Get(name("smtp_address_preference"));
  if (!pref) return Err(pref.error());
  address_preference = ToLower(Trim(*pref));
  if (address_preference != "any" && address_preference != "ipv4" && address_preference != "ipv6")
    return Err(name("smtp_address_preference") + ": \"" + *pref + "\" (use any, ipv4 or ipv6)");
  auto lookup = cfg.GetList(name("smtp_host_lookup"));
  if (!lookup) return Err(lookup.error());
  lookup_dns = lookup_native = false;
  for (const std::string& w : *lookup) {
    if (EqualsIgnoreCase(w, "dns")) lookup_dns = true;
    else if (EqualsIgnoreCase(w, "native")) lookup_native = true;
    else return Err(name("smtp_host_lookup") + ": \"" + w + "\" (use dns, native or both)");
  }
  if (!lookup_dns && !lookup_native) return Err(name("smtp_host_lookup") + ": empty (use dns, native or both)");
  auto no_dns = cfg.GetBool("disable_dns_lookups");
  if (!no_dns) return Err(no_dns.error());
  if (*no_dns) {
    lookup_dns = mx_lookups = false;
    lookup_native = true;
  }
  if (lmtp) return {};
  auto pix = cfg.Get("smtp_pix_workarounds");
  if (!pix) return Err(pix.error());
  if (auto r = ParsePixWorkarounds(*pix, &pix_disable_esmtp, &pix_delay_dotcrlf); !r)
    return Err("smtp_pix_workarounds: " + r.error());
  auto maps = OpenTables(cfg, "smtp_pix_workaround_maps");
  if (!maps) return Err(maps.error());
  pix_maps = std::move(*maps);
  auto delay = cfg.GetTime("smtp_pix_workaround_delay_time");
  if (!delay) return Err(delay.error());
  pix_delay_ms = uint64_t(delay->count()) * 1000;
  auto threshold = cfg.GetTime("smtp_pix_workaround_threshold_time");
  if (!threshold) return Err(threshold.error());
  pix_threshold_s = threshold->count();
  return {};
}

Result<Settings> Settings::Load(const config::Config& cfg, bool lmtp) {
  Settings s;
  s.lmtp = lmtp;
  for (auto [name, out] : {std::pair{"smtp_helo_name", &s.helo_name},
                           std::pair{"smtp_bind_address", &s.bind_address},
                           std::pair{"smtp_tcp_port", &s.tcp_port}}) {
    auto v = cfg.Get(ParamName(lmtp, name));
    if (!v) return Err(v.error());
    *out = std::move(*v);
  }
  for (auto [name, out] : {std::pair{"queue_directory", &s.queue_directory},
                           std::pair{"myhostname", &s.myhostname}}) {
    auto v = cfg.Get(name);
    if (!v) return Err(v.error());
    *out = std::move(*v);
  }
  for (auto [name, out] : {std::pair{"smtp_connect_timeout", &s.connect_ms},
                           std::pair{"smtp_helo_timeout", &s.helo_ms},
                           std::pair{"smtp_mail_timeout", &s.mail_ms},
                           std::pair{"smtp_rcpt_timeout", &s.rcpt_ms},
                           std::pair{"smtp_data_init_timeout", &s.data_init_ms},
                           std::pair{"smtp_data_xfer_timeout", &s.data_xfer_ms},
                           std::pair{"smtp_data_done_timeout", &s.data_done_ms},
                           std::pair{"smtp_rset_timeout", &s.rset_ms},
                           std::pair{"smtp_quit_timeout", &s.quit_ms},
                           std::pair{"smtp_connection_cache_time_limit", &s.cache_time_ms},
                           std::pair{"smtp_connection_reuse_time_limit", &s.reuse_time_ms}}) {
    auto v = cfg.GetTime(ParamName(lmtp, name));
    if (!v) return Err(v.error());
    *out = uint64_t(v->count()) * 1000;
  }
  for (auto [name, out] : {std::pair{"smtp_connection_cache_on_demand", &s.cache_on_demand},
                           std::pair{"smtp_skip_5xx_greeting", &s.skip_5xx_greeting},
                           std::pair{"smtp_skip_quit_response", &s.skip_quit_response}}) {
    auto v = cfg.GetBool(ParamName(lmtp, name));
    if (!v) return Err(v.error());
    *out = *v;
  }
  if (!lmtp) {
    auto fb = cfg.GetList("smtp_fallback_relay");
    if (!fb) return Err(fb.error());
    s.fallback_relay = std::move(*fb);
    for (auto [name, out] : {std::pair{"smtp_defer_if_no_mx_address_found", &s.defer_if_no_mx_address},
                             std::pair{"ignore_mx_lookup_error", &s.ignore_mx_lookup_error},
                             std::pair{"smtp_always_send_ehlo", &s.always_send_ehlo},
                             std::pair{"smtp_never_send_ehlo", &s.never_send_ehlo}}) {
      auto v = cfg.GetBool(name);
      if (!v) return Err(v.error());
      *out = *v;
    }
    for (auto [name, out] : {std::pair{"smtp_mx_address_limit", &s.mx_address_limit},
                             std::pair{"smtp_mx_session_limit", &s.mx_session_limit}}) {
      auto v = cfg.GetInt(name);
      if (!v) return Err(v.error());
      if (*v < 0) return Err(std::string(name) + ": must not be negative");
      *out = *v;
    }
    for (auto [name, out] : {std::pair{"best_mx_transport", &s.best_mx_transport},
                             std::pair{"relayhost", &s.relayhost}}) {
      auto v = cfg.Get(name);
      if (!v) return Err(v.error());
      *out = std::string(Trim(*v));
    }
    auto ignore = OpenTables(cfg, "smtp_mx_ignore");
    if (!ignore) return Err(ignore.error());
    s.mx_ignore = std::move(*ignore);
    auto own = route::OwnAddresses::FromConfig(cfg, false);
    if (!own) return Err(own.error());
    s.own = std::move(*own);
  }
  if (auto r = LoadContent(cfg, lmtp, &s); !r) return Err(r.error());
  if (auto r = s.LoadBehaviour(cfg); !r) return Err(r.error());
  // debug_peer_level 1 and up logs the dialogue; 0 turns the list off.
  auto debug = table::DebugPeers::FromConfig(cfg);
  if (!debug) return Err(debug.error());
  if (!debug->peers.empty() && debug->level > 0)
    s.debug_peers = std::make_shared<const table::DebugPeers>(std::move(*debug));
  auto ll = cfg.GetInt("line_length_limit");
  if (!ll) return Err(ll.error());
  s.line_length_limit = *ll < 512 ? 512 : size_t(*ll);
  if (s.helo_name.empty()) s.helo_name = s.myhostname;
  return s;
}

}  // namespace postern::smtp_client
