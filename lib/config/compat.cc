// config/compat.cc — tables of Postfix names (restrictions, table types,
// parameters, daemons) and how far postern supports each; see compat.h.
#include "postern/config/compat.h"

#include <algorithm>
#include <iterator>

namespace postern::config {

namespace {

struct Restriction {
  std::string_view name;
  RestrictionSupport support;
  bool takes_argument;
};

constexpr auto S = RestrictionSupport::kSupported;
constexpr auto U = RestrictionSupport::kUnsupported;

// Sorted by name (LookupRestriction searches it).
constexpr Restriction kRestrictions[] = {
    {"check_ccert_access", U, true},
    {"check_client_a_access", S, true},
    {"check_client_access", S, true},
    {"check_client_mx_access", S, true},
    {"check_client_ns_access", S, true},
    {"check_greylist", S, false},
    {"check_helo_a_access", S, true},
    {"check_helo_access", S, true},
    {"check_helo_mx_access", S, true},
    {"check_helo_ns_access", S, true},
    {"check_message_limits", S, false},
    {"check_policy_service", S, true},
    {"check_recipient_a_access", S, true},
    {"check_recipient_access", S, true},
    {"check_recipient_mx_access", S, true},
    {"check_recipient_ns_access", S, true},
    {"check_reverse_client_hostname_a_access", S, true},
    {"check_reverse_client_hostname_access", S, true},
    {"check_reverse_client_hostname_mx_access", S, true},
    {"check_reverse_client_hostname_ns_access", S, true},
    {"check_sasl_access", U, true},
    {"check_sender_a_access", S, true},
    {"check_sender_access", S, true},
    {"check_sender_mx_access", S, true},
    {"check_sender_ns_access", S, true},
    {"defer", S, false},
    {"defer_if_permit", U, false},
    {"defer_if_reject", U, false},
    {"defer_unauth_destination", S, false},
    {"dunno", S, false},
    {"permit", S, false},
    {"permit_auth_destination", S, false},
    {"permit_dnswl_client", S, true},
    {"permit_inet_interfaces", U, false},
    {"permit_mx_backup", U, false},
    {"permit_mynetworks", S, false},
    {"permit_naked_ip_address", U, false},
    {"permit_rhswl_client", S, true},
    {"permit_sasl_authenticated", S, false},
    {"permit_tls_all_clientcerts", U, false},
    {"permit_tls_clientcerts", U, false},
    {"reject", S, false},
    {"reject_authenticated_sender_login_mismatch", S, false},
    {"reject_invalid_helo_hostname", S, false},
    {"reject_invalid_hostname", U, false},
    {"reject_known_sender_login_mismatch", S, false},
    {"reject_maps_rbl", S, false},
    {"reject_multi_recipient_bounce", S, false},
    {"reject_non_fqdn_helo_hostname", S, false},
    {"reject_non_fqdn_hostname", U, false},
    {"reject_non_fqdn_recipient", S, false},
    {"reject_non_fqdn_sender", S, false},
    {"reject_plaintext_session", U, false},
    {"reject_rbl", S, true},
    {"reject_rbl_client", S, true},
    {"reject_rhsbl_client", S, true},
    {"reject_rhsbl_helo", S, true},
    {"reject_rhsbl_recipient", S, true},
    {"reject_rhsbl_reverse_client", S, true},
    {"reject_rhsbl_sender", S, true},
    {"reject_sender_login_mismatch", S, false},
    {"reject_unauth_destination", S, false},
    {"reject_unauth_pipelining", S, false},
    {"reject_unauthenticated_local_sender", S, false},
    {"reject_unauthenticated_sender_login_mismatch", S, false},
    {"reject_unknown_client", S, false},
    {"reject_unknown_client_hostname", S, false},
    {"reject_unknown_forward_client_hostname", S, false},
    {"reject_unknown_helo_hostname", S, false},
    {"reject_unknown_hostname", S, false},
    {"reject_unknown_recipient_domain", S, false},
    {"reject_unknown_reverse_client_hostname", S, false},
    {"reject_unknown_sender_domain", S, false},
    {"reject_unlisted_recipient", S, false},
    {"reject_unlisted_sender", S, false},
    {"reject_unverified_recipient", S, false},
    {"reject_unverified_sender", S, false},
    {"sleep", U, true},
    {"warn_if_reject", S, false},
};

constexpr std::string_view kSupportedTables[] = {
    "btree", "cidr", "dbm", "hash", "inline", "lmdb", "pcre", "regexp", "static", "sts", "texthash", "unix",
};
constexpr std::string_view kPostfixTables[] = {
    "cdb",   "environ", "fail",      "internal", "ldap",    "memcache", "mysql",  "netinfo",  "nis",
    "nisplus", "pgsql", "pipemap",   "proxy",    "randmap", "sdbm",     "socketmap",
    "sqlite", "tcp",    "unionmap",
};

struct Unsupported {
  std::string_view name;
  const char* feature;
};

// Sorted by name. Parameters that real Postfix configurations set and that
// postern has no feature for yet.
constexpr Unsupported kUnsupportedParams[] = {
    {"always_bcc", "automatic BCC recipients"},
    {"broken_sasl_auth_clients", "the AUTH= EHLO line for broken clients"},
    {"content_filter", "after-queue content filters"},
    {"fallback_transport", "fallback_transport of the local delivery agent"},
    {"luser_relay", "luser_relay of the local delivery agent"},
    {"postscreen_access_list", "postscreen(8)"},
    {"postscreen_dnsbl_sites", "postscreen(8)"},
    {"recipient_bcc_maps", "automatic BCC recipients"},
    {"relocated_maps", "relocated(5) tables"},
    {"sender_bcc_maps", "automatic BCC recipients"},
    {"sender_dependent_default_transport_maps", "sender-dependent routing"},
    {"sender_dependent_relayhost_maps", "sender-dependent routing"},
    {"smtpd_etrn_restrictions", "ETRN"},
    {"smtpd_proxy_filter", "before-queue content filters"},
    {"smtpd_sasl_local_domain", "SASL realms (Cyrus SASL)"},
    {"smtpd_tls_CAfile", "client certificates in smtpd"},
    {"smtpd_tls_CApath", "client certificates in smtpd"},
    {"smtpd_tls_ask_ccert", "client certificates in smtpd"},
    {"smtpd_tls_req_ccert", "client certificates in smtpd"},
    {"smtpd_tls_session_cache_database", "a TLS session cache database (postern uses session tickets)"},
};

constexpr std::string_view kNoDaemon = "";

// Postfix's stock master.cf commands. Those postern runs under the same name
// (smtpd, smtp, lmtp, local, virtual, error, discard, pipe, qmgr, pickup, bounce) are not listed.
constexpr PostfixDaemon kDaemons[] = {
    {"anvil", kNoDaemon, "postern's smtpds share their connection counts and rates in anvil_database"},
    {"cleanup", kNoDaemon, "cleanup runs inside smtpd and pickup"},
    {"flush", kNoDaemon, "fast flush is not supported; postern flush schedules the whole queue"},
    {"oqmgr", "qmgr", ""},
    {"postlogd", kNoDaemon, "workers log themselves (maillog_file or syslog)"},
    {"proxymap", kNoDaemon, "each program opens its own lookup tables"},
    {"scache", kNoDaemon, "the smtp client keeps its own connection cache"},
    {"showq", kNoDaemon, "mailq and postern show queue read the queue through master"},
    {"spawn", kNoDaemon, "spawn(8) is not supported yet"},
    {"tlsmgr", kNoDaemon, "TLS session tickets need no tlsmgr"},
    {"tlsproxy", kNoDaemon, "tlsproxy(8) is not supported yet"},
    {"trivial-rewrite", kNoDaemon, "address rewriting and routing run inside smtpd and qmgr"},
    {"postscreen", kNoDaemon, "postscreen(8) is not supported yet"},
    {"dnsblog", kNoDaemon, "postscreen(8) is not supported yet"},
};

}  // namespace

bool IsDnsListRestriction(std::string_view n) {
  return n == "reject_rbl_client" || n == "reject_rbl" || n == "reject_rhsbl_client" || n == "reject_rhsbl_sender" ||
         n == "reject_rhsbl_helo" || n == "reject_rhsbl_reverse_client" || n == "reject_rhsbl_recipient" ||
         n == "permit_dnswl_client" || n == "permit_rhswl_client";
}

namespace {

template <class T, size_t N>
const T* FindSorted(const T (&table)[N], std::string_view name) {
  auto it = std::lower_bound(std::begin(table), std::end(table), name,
                             [](const T& e, std::string_view n) { return e.name < n; });
  return it != std::end(table) && it->name == name ? &*it : nullptr;
}

bool Contains(const auto& list, std::string_view v) {
  return std::find(std::begin(list), std::end(list), v) != std::end(list);
}

}  // namespace

RestrictionInfo LookupRestriction(std::string_view name) {
  const Restriction* r = FindSorted(kRestrictions, name);
  if (!r) return {};
  return {r->support, r->takes_argument};
}

std::span<const std::string_view> SupportedTableTypes() { return kSupportedTables; }

std::span<const std::string_view> MailboxLockTypes() {
  // Postfix's order (postconf -l on Linux).
  static constexpr std::string_view kLocks[] = {"flock", "fcntl", "dotlock"};
  return kLocks;
}

TableSupport LookupTableType(std::string_view type) {
  if (Contains(kSupportedTables, type)) return TableSupport::kSupported;
  if (Contains(kPostfixTables, type)) return TableSupport::kUnsupported;
  return TableSupport::kUnknown;
}

std::string_view CanonicalTableType(std::string_view type) {
  return type == "hash" || type == "btree" || type == "dbm" ? std::string_view("lmdb") : type;
}

const char* UnsupportedParameter(std::string_view name) {
  if (name.starts_with("postscreen_")) return "postscreen(8)";
  const Unsupported* u = FindSorted(kUnsupportedParams, name);
  return u ? u->feature : nullptr;
}

const PostfixDaemon* FindPostfixDaemon(std::string_view command) {
  for (const PostfixDaemon& d : kDaemons)
    if (d.command == command) return &d;
  return nullptr;
}

ServicePlan PlanService(const MasterService& def) {
  ServicePlan p{true, def, {}};
  const PostfixDaemon* d = FindPostfixDaemon(def.command);
  if (!d) return p;
  if (d->equivalent.empty()) {
    p.run = false;
    p.note = "Postfix's " + def.command + " daemon: " + std::string(d->note);
  } else {
    p.def.command = d->equivalent;
  }
  return p;
}

}  // namespace postern::config
