// smtp/settings.h — the smtp/lmtp client's parameters. One program serves both
// protocols; in LMTP mode every smtp_NAME is read as Postfix's lmtp_NAME.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "postern/cleanup/checks.h"
#include "postern/config/maincf.h"
#include "postern/mime/walker.h"
#include "postern/route/own_addr.h"
#include "postern/table/table.h"
#include "postern/table/peer_list.h"
#include "postern/util/result.h"

namespace postern::smtp_client {

// Postfix's lmtp_NAME for an smtp_NAME when `lmtp` (lhlo for helo), else the name itself.
std::string ParamName(bool lmtp, std::string_view smtp_name);
// smtp_pix_workarounds / a smtp_pix_workaround_maps value: disable_esmtp, delay_dotcrlf.
Result<void> ParsePixWorkarounds(std::string_view text, bool* disable_esmtp, bool* delay_dotcrlf);

struct Settings {
  bool lmtp = false;
  std::string queue_directory;
  std::string helo_name;      // smtp_helo_name / lmtp_lhlo_name
  std::string bind_address;   // smtp_bind_address: source IPv4/IPv6 address, "" = any
  std::string tcp_port;       // smtp_tcp_port / lmtp_tcp_port
  // Per-phase limits in milliseconds; 0 = no limit (lmtp_connect_timeout's default).
  uint64_t connect_ms = 0, helo_ms = 0, mail_ms = 0, rcpt_ms = 0, data_init_ms = 0,
           data_xfer_ms = 0, data_done_ms = 0, rset_ms = 0, quit_ms = 0;
  bool cache_on_demand = true;
  uint64_t cache_time_ms = 0;  // how long an idle connection waits for the next request
  uint64_t reuse_time_ms = 0;  // connections older than this are not used again
  bool skip_5xx_greeting = true;
  std::vector<std::string> fallback_relay;  // smtp_fallback_relay: next hops after the destination's own
  bool defer_if_no_mx_address = false;  // smtp_defer_if_no_mx_address_found
  bool ignore_mx_lookup_error = false;  // a failed MX lookup falls back to the domain's addresses
  long long mx_address_limit = 5;  // smtp only; 0 = no limit
  long long mx_session_limit = 2;
  size_t line_length_limit = 2048;
  size_t text_line_limit = 990;  // smtp_line_length_limit / lmtp_line_length_limit; 0 = none
  bool mime_output_conversion = true;  // !disable_mime_output_conversion
  mime::Limits mime_limits;            // mime_nesting_limit, mime_boundary_length_limit
  // smtp_header_checks, smtp_mime_header_checks, smtp_nested_header_checks,
  // smtp_body_checks (lmtp_*); null when none is set.
  std::shared_ptr<cleanup::CheckTables> checks;
  std::string myhostname;
  // Loop detection (smtp only): our addresses (inet_interfaces,
  // proxy_interfaces), where mail for which we are the best MX goes, and
  // relayhost (a loop through it is a configuration problem: 4.3.5).
  route::OwnAddresses own;
  std::string best_mx_transport;
  std::string relayhost;
  // smtp_mx_ignore: MX hosts never tried (busted exchangers); null when unset.
  std::shared_ptr<table::TableList> mx_ignore;
  // EHLO or HELO: smtp_always_send_ehlo (else EHLO only after "ESMTP" in the
  // greeting), smtp_never_send_ehlo.
  bool always_send_ehlo = true, never_send_ehlo = false;
  bool skip_quit_response = true;  // smtp_skip_quit_response
  bool quote_rfc821_envelope = true;  // smtp_quote_rfc821_envelope
  bool send_xforward = false;         // smtp_send_xforward_command
  long long reuse_count_limit = 0;  // smtp_connection_reuse_count_limit; 0 = none
  bool per_record_deadline = false;  // smtp_per_record_deadline
  // smtp_delivery_status_filter: "X.Y.Z text" → a new status and text; null when unset.
  std::shared_ptr<table::TableList> status_filter;
  // inet_protocols, and smtp_address_preference (any, ipv4, ipv6) among
  // servers of equal MX preference.
  bool ipv4 = true, ipv6 = true;
  // smtp_host_lookup (dns, native; lmtp_host_lookup); disable_dns_lookups =
  // yes: native only and no MX lookups.
  bool lookup_dns = true, lookup_native = false, mx_lookups = true;
  std::string address_preference = "any";
  // smtp_pix_workarounds (disable_esmtp, delay_dotcrlf) for a server whose
  // greeting is a PIX-mangled "220 *****", or by smtp_pix_workaround_maps.
  bool pix_disable_esmtp = true, pix_delay_dotcrlf = true;
  std::shared_ptr<table::TableList> pix_maps;
  uint64_t pix_delay_ms = 10000;
  long long pix_threshold_s = 500;

  // postern send's command line (send.h); never set by main.cf.
  bool ehlo_first = false;               // -A: EHLO before the greeting
  std::string gateway;                   // -g: next hop for a destination that cannot be found
  std::vector<std::string> mx_ignore_hosts;  // -b: MX hosts never tried
  // debug_peer_list and debug_peer_level: the remote hosts (by name or
  // address) whose dialogue is logged; null when the list is empty.
  std::shared_ptr<const table::DebugPeers> debug_peers;

  // `program` is "smtp" or "lmtp" (the name the binary was run as).
  static Result<Settings> Load(const config::Config& cfg, bool lmtp);
  Result<void> LoadBehaviour(const config::Config& cfg);
};

}  // namespace postern::smtp_client
