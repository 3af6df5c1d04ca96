// smtpd/settings.h — the main.cf parameters smtpd reads, checked once at
// start-up so that a session never parses configuration.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "postern/cleanup/content.h"
#include "postern/config/maincf.h"
#include "postern/milter/spec.h"
#include "postern/route/own_addr.h"
#include "postern/queue/quarantine.h"
#include "postern/smtp/data.h"
#include "postern/table/peer_list.h"
#include "postern/util/result.h"
#include "smtpd/abuse.h"
#include "smtpd/inbound.h"
#include "smtpd/policy.h"
#include "smtpd/tls.h"

namespace postern::smtpd {

// Postfix's local_header_rewrite_clients: clients whose mail gets its header
// addresses rewritten by cleanup (canonical, masquerading).
struct HeaderRewriteClients {
  bool inet_interfaces = false, mynetworks = false, sasl = false, all = false;
  route::OwnAddresses own;  // for permit_inet_interfaces
  static Result<HeaderRewriteClients> FromConfig(const config::Config& cfg);
};

struct Settings {
  std::string myhostname, banner, mail_name, myorigin, queue_directory;
  uint64_t message_size_limit = 0;  // 0: no limit
  uint64_t queue_minfree = 0;       // MAIL is refused (452 4.3.1) at or below it
  uint64_t recipient_limit = 0;     // 0: no limit
  long long recipient_overshoot_limit = 1000;  // RCPTs past the limit that are not errors
  size_t line_length_limit = 2048;
  uint64_t timeout_ms = 300000;
  uint64_t error_sleep_ms = 1000;
  long long soft_error_limit = 10, hard_error_limit = 20;
  bool helo_required = false, disable_vrfy = true, strict_rfc821 = false;
  smtp::BareLf bare_lf = smtp::BareLf::kNormalize;
  NetworkList bare_lf_exclusions;
  long long connection_count_limit = 50;  // per client address, host-wide (anvil)
  NetworkList event_limit_exceptions;
  AbuseSettings abuse;  // greeting delay, dropped clients, anvil rates
  InboundRoutes inbound;  // route_maps: statistics per inbound route
  TlsSettings tls;
  cleanup::Options cleanup;  // hopcount_limit, header_size_limit, stray CR/LF; drops Return-Path
  HeaderRewriteClients header_rewrite;
  // Postmaster notices (smtpd/notify.h): notify_classes, where they go, from whom.
  unsigned notify_classes = 0;
  std::string error_rcpt, double_bounce;  // qualified with $myorigin
  size_t history_flush_threshold = 100;   // smtpd_history_flush_threshold
  bool peername_lookup = true;            // smtpd_peername_lookup
  std::string foreign_sender_header;      // smtpd_foreign_sender_header; empty: none
  // smtpd_save_rejected: where and how much of the mail refused after DATA is kept.
  std::optional<queue::QuarantineLimits> save_rejected;
  // debug_peer_list: host names (and their subdomains), addresses, networks
  // and tables; debug_peer_level for the clients it matches.
  table::DebugPeers debug_peers;
  // smtpd_milters (SMTP clients), non_smtpd_milters (local submission), macros, timeouts.
  std::shared_ptr<const milter::Settings> milters = std::make_shared<milter::Settings>();

  // keys: the certificate and key read before privileges were dropped.
  static Result<Settings> Load(const config::Config& cfg, ServerKeys* keys);
};

}  // namespace postern::smtpd
