// config/params.cc — THE parameter registry. Keep it sorted by name (a unit
// test checks); Postfix's names and defaults wherever the meaning is the same.
// postconf -d, main.cf validation and postern.conf(5) all come from here.
#include "postern/config/params.h"

#include <unistd.h>

#include <algorithm>
#include <climits>

#include "postern/config/layout.h"

namespace postern::config {

namespace {

std::string HostName() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "localhost.localdomain";
  std::string h = buf;
  // Postfix wants a fully-qualified name; a bare one gets .localdomain.
  return h.find('.') == std::string::npos ? h + ".localdomain" : h;
}

// Postfix's default: myhostname without its first label (maincf.cc derives
// it from a myhostname set in main.cf the same way).
std::string DomainName() {
  std::string h = HostName();
  size_t dot = h.find('.');
  return dot == std::string::npos || dot + 1 == h.size() ? "localdomain" : h.substr(dot + 1);
}

std::string CommandDir() { return InstallLayout().command_dir; }
std::string DaemonDir() { return InstallLayout().daemon_dir; }
std::string ConfDir() { return InstallLayout().config_dir; }

using T = ParamType;

// name, type, default, description[, time unit[, computed default]]
constexpr ParamDef kParams[] = {
    {"2bounce_notice_recipient", T::kString, "postmaster", "recipient of undeliverable mail that cannot be returned to the sender"},
    {"alias_database", T::kTables, "lmdb:/etc/aliases", "alias databases that newaliases rebuilds"},
    {"alias_maps", T::kTables, "lmdb:/etc/aliases", "alias tables that the local delivery agent uses"},
    {"allow_mail_to_commands", T::kList, "alias, forward", "where the local delivery agent accepts |command destinations: alias, forward, include"},
    {"allow_mail_to_files", T::kList, "alias, forward", "where the local delivery agent accepts /file/name destinations: alias, forward, include"},
    {"allow_untrusted_routing", T::kBool, "no", "let clients outside mynetworks use sender-specified routing (user%host@, host!user@, \"user@host\"@) to relay"},
    {"always_add_missing_headers", T::kBool, "no", "add Message-Id:, Date: and From: headers that are missing from mail received over SMTP (local submissions always get them)"},
    {"append_dot_mydomain", T::kBool, "no", "no effect in postern (accepted from Postfix's main.cf): postern never appends .$mydomain to addresses, as Postfix with no"},
    {"best_mx_transport", T::kString, "", "transport that gets mail for which this host is the best MX (the smtp client would loop back to itself), e.g. local; empty: bounce with 5.4.6"},
    {"biff", T::kBool, "yes", "no effect in postern (accepted from Postfix's main.cf): postern has no comsat notification"},
    {"body_checks", T::kTables, "", "tables of patterns (regexp:, pcre:) that inspect each message body line in cleanup: REJECT, WARN, INFO, IGNORE, HOLD, DISCARD, PREPEND, REPLACE, REDIRECT, BCC, FILTER, DUNNO (header_checks(5))"},
    {"body_checks_size_limit", T::kInt, "51200", "bytes of each MIME body segment that body_checks inspect; 0: all"},
    {"bounce_notice_recipient", T::kString, "postmaster", "recipient of postmaster notices about mail that bounced"},
    {"bounce_queue_lifetime", T::kTime, "5d", "how long a bounce message is retried before it is given up", 'd'},
    {"bounce_size_limit", T::kSize, "50000", "largest original message attached whole to a non-delivery notice (larger ones: headers only)"},
    {"cleanup_replace_stray_cr_lf", T::kBool, "yes", "replace each stray CR or LF (and any NUL) in message content with a space when mail is queued, so no bare CR or LF leaves the host"},
    {"command_directory", T::kString, "", "where the postern, postconf and other commands live", 's', CommandDir},
    {"command_time_limit", T::kTime, "1000s", "time limit for a delivery to a command (local, and pipe unless <service>_time_limit is set)"},
    {"compatibility_level", T::kString, "0", "no effect in postern (accepted from Postfix's main.cf): postern has Postfix's current defaults, documented here"},
    {"config_directory", T::kString, "", "where main.cf and master.cf live (the -c directory)", 's', ConfDir},
    {"control_timeout", T::kTime, "30s", "how long master waits for a sign of life from a worker answering a postern control request before it gives up (0: no limit)"},
    {"daemon_directory", T::kString, "", "where master and the worker programs live", 's', DaemonDir},
    {"daemon_timeout", T::kTime, "18000s", "how long a worker may handle one request before it is killed"},
    {"data_directory", T::kString, "/var/lib/postern", "where postern keeps caches and other writable data"},
    {"default_database_type", T::kString, "lmdb", "table type that postmap and postalias use for a file name without type: lmdb (hash, btree and dbm mean lmdb)"},
    {"default_destination_concurrency_failed_cohort_limit", T::kInt, "1", "failed cohorts (a whole window of failed deliveries) after which qmgr declares a destination dead"},
    {"default_destination_concurrency_limit", T::kInt, "20", "default number of parallel deliveries to one destination"},
    {"default_destination_concurrency_negative_feedback", T::kString, "1", "concurrency decrease after a failed delivery: N or N/concurrency"},
    {"default_destination_concurrency_positive_feedback", T::kString, "1", "concurrency increase after a successful delivery: N or N/concurrency"},
    {"default_destination_recipient_limit", T::kInt, "50", "default number of recipients in one delivery request"},
    {"default_privs", T::kString, "nobody", "user whose rights local delivery uses for commands and files of root-owned aliases"},
    {"default_process_limit", T::kInt, "100", "default maximal number of processes of a master.cf service (maxproc -)"},
    {"default_transport", T::kString, "smtp", "transport for destinations that are neither local nor relayed"},
    {"delay_notice_recipient", T::kString, "postmaster", "recipient of postmaster notices about delayed mail"},
    {"delay_warning_time", T::kTime, "0h", "time after which the sender is told that mail is delayed (0: never)", 'h'},
    {"disable_mime_output_conversion", T::kBool, "no", "send 8BITMIME mail unchanged to servers that do not announce 8BITMIME instead of converting 8bit parts to quoted-printable"},
    {"disable_vrfy_command", T::kBool, "yes", "refuse the SMTP VRFY command (502)"},
    {"dns_servers", T::kList, "", "DNS servers (ip or ip:port) for the resolver; empty: those of /etc/resolv.conf"},
    {"double_bounce_sender", T::kString, "double-bounce", "sender of postmaster notices; mail to it that bounces is discarded"},
    {"error_notice_recipient", T::kString, "postmaster", "recipient of postmaster notices about policy, protocol, resource and software errors (SMTP session transcripts)"},
    {"expand_owner_alias", T::kBool, "no", "send forwarded mail of an alias with an owner- alias from the owner- alias's expansion instead of the owner- address"},
    {"export_environment", T::kList, "TZ MAIL_CONFIG LANG", "environment variables that local and pipe pass to commands (NAME or NAME=value)"},
    {"fallback_relay", T::kList, "", "next hops the smtp client tries when a destination cannot be found or its servers all fail temporarily"},
    {"forward_path", T::kList, "$home/.forward${recipient_delimiter}${extension}, $home/.forward", ".forward files that the local delivery agent looks for"},
    {"header_checks", T::kTables, "", "tables of patterns (regexp:, pcre:) that inspect each logical primary message header in cleanup (header_checks(5))"},
    {"header_size_limit", T::kInt, "102400", "bytes kept of one message header (with its continuation lines) when mail is queued; the excess is discarded"},
    {"home_mailbox", T::kString, "", "mailbox file or Maildir/ (ending in /) under the home directory; empty: mail_spool_directory"},
    {"hopcount_limit", T::kInt, "50", "Received: and Delivered-To: headers at which a message is refused as a mail loop (554 5.4.0 too many hops); 0: no limit"},
    {"html_directory", T::kString, "no", "no effect in postern (accepted from Postfix's main.cf): documentation location of Postfix"},
    {"ignore_mx_lookup_error", T::kBool, "no", "when an MX lookup fails (SERVFAIL, timeout), look up the domain's addresses instead of deferring"},
    {"import_environment", T::kList, "MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C POSTERN_CONFIG_DIR", "environment variables that master passes on to workers (NAME or NAME=value)"},
    {"inet_interfaces", T::kList, "all", "addresses that inet services listen on (all, loopback-only or a list)"},
    {"inet_protocols", T::kList, "all", "address families to use: ipv4, ipv6 or all"},
    {"initial_destination_concurrency", T::kInt, "5", "number of parallel deliveries to a destination when it is new"},
    {"ipc_timeout", T::kTime, "3600s", "time limit for one exchange between postern processes"},
    {"line_length_limit", T::kInt, "2048", "longest line smtpd and the transports keep whole; longer lines are split"},
    {"listen_backlog", T::kInt, "0", "listen queue length of master's sockets (also per service with -o); 0: the system maximum, net.core.somaxconn"},
    {"lmtp_bind_address", T::kString, "", "source IP address of the lmtp client's connections; empty: chosen by the system"},
    {"lmtp_body_checks", T::kTables, "", "the lmtp client's body checks for outgoing mail: IGNORE, REPLACE, PREPEND, WARN, INFO, DUNNO"},
    {"lmtp_connect_timeout", T::kTime, "0s", "time limit for the lmtp client to connect; 0: no limit"},
    {"lmtp_connection_cache_on_demand", T::kBool, "yes", "keep an lmtp connection open for the next request to the same destination"},
    {"lmtp_connection_cache_time_limit", T::kTime, "2s", "how long an idle cached lmtp connection waits for the next request"},
    {"lmtp_connection_reuse_time_limit", T::kTime, "300s", "age after which a cached lmtp connection is no longer reused"},
    {"lmtp_data_done_timeout", T::kTime, "600s", "time limit for the lmtp server's replies after the end of the message"},
    {"lmtp_data_init_timeout", T::kTime, "120s", "time limit for the lmtp server's reply to DATA"},
    {"lmtp_data_xfer_timeout", T::kTime, "180s", "time limit for sending each part of the message content over lmtp"},
    {"lmtp_destination_concurrency_limit", T::kInt, "$default_destination_concurrency_limit", "parallel deliveries to one destination by the lmtp transport"},
    {"lmtp_destination_recipient_limit", T::kInt, "$default_destination_recipient_limit", "recipients in one delivery request of the lmtp transport"},
    {"lmtp_header_checks", T::kTables, "", "the lmtp client's header checks for outgoing mail: IGNORE, REPLACE, PREPEND, WARN, INFO, DUNNO"},
    {"lmtp_lhlo_name", T::kString, "$myhostname", "host name that the lmtp client sends in LHLO"},
    {"lmtp_lhlo_timeout", T::kTime, "300s", "time limit for the lmtp server's greeting and its reply to LHLO"},
    {"lmtp_line_length_limit", T::kInt, "990", "longest header or body line the lmtp client sends; longer header lines are folded (CRLF SPACE), body lines broken (CRLF); 0: no limit"},
    {"lmtp_mail_timeout", T::kTime, "300s", "time limit for the lmtp server's reply to MAIL FROM"},
    {"lmtp_mime_header_checks", T::kTables, "", "the lmtp client's checks of MIME headers in outgoing mail"},
    {"lmtp_nested_header_checks", T::kTables, "", "the lmtp client's checks of the headers of attached messages in outgoing mail"},
    {"lmtp_quit_timeout", T::kTime, "300s", "time limit for the lmtp server's reply to QUIT"},
    {"lmtp_rcpt_timeout", T::kTime, "300s", "time limit for the lmtp server's reply to RCPT TO"},
    {"lmtp_rset_timeout", T::kTime, "20s", "time limit for the lmtp server's reply to RSET"},
    {"lmtp_sasl_auth_enable", T::kBool, "no", "log in to servers listed in lmtp_sasl_password_maps with AUTH"},
    {"lmtp_sasl_mechanism_filter", T::kList, "", "AUTH mechanisms the lmtp client may use (PLAIN, LOGIN); empty: both"},
    {"lmtp_sasl_password_maps", T::kTables, "", "tables of next hop (unix:/path, [host]:port, host) to user:password for AUTH"},
    {"lmtp_sasl_security_options", T::kList, "noplaintext, noanonymous", "lmtp client AUTH without TLS: noanonymous allows PLAIN/LOGIN; noplaintext (and noactive, nodictionary, mutual_auth, forward_secrecy) exclude them"},
    {"lmtp_sasl_tls_security_options", T::kList, "$lmtp_sasl_security_options", "lmtp_sasl_security_options in force over a TLS connection"},
    {"lmtp_skip_5xx_greeting", T::kBool, "yes", "try the next lmtp server after a 5xx greeting instead of bouncing"},
    {"lmtp_starttls_timeout", T::kTime, "300s", "time limit for the lmtp client's TLS handshake"},
    {"lmtp_tcp_port", T::kString, "24", "port the lmtp client dials when a next hop names none"},
    {"lmtp_tls_CAfile", T::kString, "", "PEM file of CA certificates that the lmtp client trusts for server certificates"},
    {"lmtp_tls_CApath", T::kString, "", "directory of PEM CA certificates that the lmtp client trusts"},
    {"lmtp_tls_cert_file", T::kString, "", "PEM certificate that the lmtp client presents when a server asks for one (optional)"},
    {"lmtp_tls_ciphers", T::kString, "medium", "cipher grade (export, low, medium, high) of the lmtp client with opportunistic TLS"},
    {"lmtp_tls_key_file", T::kString, "$lmtp_tls_cert_file", "PEM private key of lmtp_tls_cert_file"},
    {"lmtp_tls_loglevel", T::kInt, "0", "lmtp client TLS logging: 0 failures only, 1 connection summary, 2 handshake, 4+ GnuTLS debug"},
    {"lmtp_tls_mandatory_ciphers", T::kString, "medium", "cipher grade of the lmtp client where TLS is required (encrypt, verify, secure)"},
    {"lmtp_tls_mandatory_protocols", T::kString, ">=TLSv1", "TLS protocols of the lmtp client where TLS is required (encrypt, verify, secure)"},
    {"lmtp_tls_policy_maps", T::kTables, "", "tables of next hop ([host]:port, domain, .domain) to a TLS policy: level [match=...] [protocols=...] [ciphers=...]"},
    {"lmtp_tls_protocols", T::kString, ">=TLSv1", "TLS protocols of the lmtp client with opportunistic TLS (may)"},
    {"lmtp_tls_secure_cert_match", T::kList, "nexthop, dot-nexthop", "names a server certificate must match at level secure (nexthop, dot-nexthop, hostname, names, .domains)"},
    {"lmtp_tls_security_level", T::kString, "", "lmtp client TLS: none, may, encrypt, verify or secure (dane is not supported yet)"},
    {"lmtp_tls_verify_cert_match", T::kList, "hostname", "names a server certificate must match at level verify (hostname, nexthop, dot-nexthop, names, .domains)"},
    {"local_destination_concurrency_limit", T::kInt, "2", "parallel deliveries to one local recipient by the local transport"},
    {"local_destination_recipient_limit", T::kInt, "1", "recipients in one delivery request of the local transport"},
    {"local_recipient_maps", T::kTables, "unix:passwd.byname $alias_maps", "tables of known local recipients; unknown ones are refused at RCPT"},
    {"local_transport", T::kString, "local:$myhostname", "transport for recipients in mydestination"},
    {"mail_name", T::kString, "postern", "the mail system's name in the SMTP greeting and in notices"},
    {"mail_owner", T::kString, "postern", "unprivileged user that owns the queue and runs the workers"},
    {"mail_spool_directory", T::kString, "/var/mail", "directory of mbox files for local delivery"},
    {"mail_version", T::kString, POSTERN_VERSION, "the version of postern (read-only: the project version the programs were built from)"},
    {"mailbox_command", T::kString, "", "command that local delivery pipes mail to, instead of a mailbox"},
    {"mailbox_delivery_lock", T::kList, "fcntl, dotlock", "locks that local delivery takes on an mbox file: fcntl, flock, dotlock"},
    {"mailbox_size_limit", T::kSize, "51200000", "largest mbox file or file destination that local delivery appends to (0: no limit)"},
    {"mailbox_transport", T::kString, "", "transport (transport[:nexthop]) that local delivery hands mailbox deliveries to, instead of delivering them itself"},
    {"maillog_file", T::kString, "", "log file (a path, or /dev/stdout); empty: syslog"},
    {"mailq_path", T::kString, "/usr/bin/mailq", "no effect in postern (accepted from Postfix's main.cf): documentation of where mailq lives"},
    {"manpage_directory", T::kString, "/usr/share/man", "no effect in postern (accepted from Postfix's main.cf): documentation location of Postfix"},
    {"max_idle", T::kTime, "100s", "time a worker waits for a new client before it exits"},
    {"max_use", T::kInt, "100", "clients a worker sees to their end before it exits (see master(8))"},
    {"maximal_backoff_time", T::kTime, "4000s", "longest time between delivery attempts of a deferred message"},
    {"maximal_queue_lifetime", T::kTime, "5d", "time a message stays queued before it is returned as undeliverable", 'd'},
    {"message_size_limit", T::kSize, "10240000", "largest message (envelope and content) accepted, in bytes"},
    {"meta_directory", T::kString, "/etc/postfix", "no effect in postern (accepted from Postfix's main.cf): Postfix's install metadata"},
    {"metrics_timeout", T::kTime, "10s", "time limit for a metrics(8) client to send its request and for the figures to be gathered"},
    {"mime_boundary_length_limit", T::kInt, "2048", "multipart boundaries are compared on this many octets (MIME conversion in the smtp client)"},
    {"mime_header_checks", T::kTables, "$header_checks", "tables that inspect MIME headers (MIME-Version:, Content-*:, every header of a multipart body part) in cleanup"},
    {"mime_nesting_limit", T::kInt, "100", "deepest multipart and message/rfc822 nesting that MIME conversion handles; deeper mail bounces (5.6.0)"},
    {"minimal_backoff_time", T::kTime, "300s", "shortest time between delivery attempts of a deferred message"},
    {"multi_instance_name", T::kString, "", "name of this instance, used in syslog_name"},
    {"mydestination", T::kList, "$myhostname, localhost.$mydomain, localhost", "domains delivered locally"},
    {"mydomain", T::kString, "", "the internet domain of this host; by default myhostname without its first label", 's', DomainName},
    {"myhostname", T::kString, "", "the fully-qualified name of this host", 's', HostName},
    {"mynetworks", T::kList, "127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128", "trusted client networks, which may relay"},
    {"mynetworks_style", T::kString, "host", "networks added to an unset mynetworks: host (own addresses), subnet or class"},
    {"myorigin", T::kString, "$myhostname", "domain that locally posted mail appears to come from; a value starting with / names a file whose first word is the domain (Debian: /etc/mailname)"},
    {"nested_header_checks", T::kTables, "$header_checks", "tables that inspect the non-MIME headers of attached messages (message/rfc822) in cleanup"},
    {"newaliases_path", T::kString, "/usr/bin/newaliases", "no effect in postern (accepted from Postfix's main.cf): documentation of where newaliases lives"},
    {"notify_classes", T::kList, "resource, software", "problem classes reported to the postmaster"},
    {"owner_request_special", T::kBool, "yes", "treat owner-name and name-request local parts specially (no address extension split)"},
    {"policy_cache_database", T::kString, "$queue_directory/policy_cache.lmdb", "the policy cache: keys with values and expiry times for anti-abuse checks and postern cache"},
    {"prepend_delivered_header", T::kList, "command, file, forward", "local deliveries that get a Delivered-To: header besides mailboxes: command, file, forward"},
    {"process_id_directory", T::kString, "pid", "lock and pid files, relative to queue_directory"},
    {"propagate_unmatched_extensions", T::kList, "canonical, virtual", "lookups that pass an unmatched address extension on: virtual, alias, forward, include (canonical: accepted, postern has no canonical maps)"},
    {"proxy_interfaces", T::kList, "", "addresses on which mail reaches this host through a proxy or NAT: literals of them are local, MX hosts on them loop back"},
    {"qmgr_message_active_limit", T::kInt, "20000", "messages the queue manager holds in memory at once"},
    {"qmgr_message_recipient_limit", T::kInt, "20000", "recipients the queue manager holds in memory at once"},
    {"queue_directory", T::kString, "/var/spool/postern", "the queue: LMDB environment, message bodies, sockets"},
    {"queue_map_size", T::kSize, "4g", "largest size the queue's LMDB map (envelopes, and bodies up to 32 KiB) may grow to; mail is refused (452) at the limit"},
    {"queue_minfree", T::kSize, "0", "free space the queue file system must keep; smtpd refuses mail (452 4.3.1) below it or below 1.5 x message_size_limit"},
    {"queue_reserve_size", T::kSize, "8m", "space kept allocated in $queue_directory/queue.reserve and released when the file system is full, so that qmgr can still activate and remove envelopes; 0: none"},
    {"queue_run_delay", T::kTime, "300s", "time between scans of the deferred queue"},
    {"readme_directory", T::kString, "no", "no effect in postern (accepted from Postfix's main.cf): documentation location of Postfix"},
    {"recipient_delimiter", T::kString, "", "separators between user name and address extension (user+ext)"},
    {"relay_destination_concurrency_limit", T::kInt, "$default_destination_concurrency_limit", "parallel deliveries to one destination by the relay transport"},
    {"relay_destination_recipient_limit", T::kInt, "$default_destination_recipient_limit", "recipients in one delivery request of the relay transport"},
    {"relay_domains", T::kList, "", "remote domains this host relays mail to from anywhere"},
    {"relay_recipient_maps", T::kTables, "", "tables of the valid recipients in relay_domains (a backup MX); unknown ones are refused at RCPT (550 5.1.1); empty: every recipient"},
    {"relay_transport", T::kString, "relay", "transport for recipients in relay_domains"},
    {"relayhost", T::kString, "", "next hop for remote mail ([host]:port skips the MX lookup); empty: direct"},
    {"resolve_numeric_domain", T::kBool, "no", "take user@192.0.2.1 as user@[192.0.2.1] (an address literal) instead of refusing it as bad syntax"},
    {"sample_directory", T::kString, "/etc/postfix", "no effect in postern (accepted from Postfix's main.cf): documentation location of Postfix"},
    {"sendmail_path", T::kString, "/usr/sbin/sendmail", "no effect in postern (accepted from Postfix's main.cf): documentation of where sendmail lives"},
    {"service_name", T::kString, "", "the master.cf service name of a worker, set for each worker by the skeleton (read-only; e.g. -o syslog_name=postfix/$service_name)"},
    {"service_throttle_time", T::kTime, "60s", "time a service is paused after its worker failed at start"},
    {"setgid_group", T::kString, "postdrop", "no effect in postern (accepted from Postfix's main.cf): postern's maildrop needs no setgid group"},
    {"shlib_directory", T::kString, "no", "no effect in postern (accepted from Postfix's main.cf): Postfix's shared-library location"},
    {"smtp_bind_address", T::kString, "", "source IP address of the smtp client's connections; empty: chosen by the system"},
    {"smtp_body_checks", T::kTables, "", "the smtp client's body checks for outgoing mail: IGNORE, REPLACE, PREPEND, WARN, INFO, DUNNO"},
    {"smtp_connect_timeout", T::kTime, "30s", "time limit for the smtp client to connect"},
    {"smtp_connection_cache_on_demand", T::kBool, "yes", "keep an smtp connection open for the next request to the same destination"},
    {"smtp_connection_cache_time_limit", T::kTime, "2s", "how long an idle cached smtp connection waits for the next request"},
    {"smtp_connection_reuse_time_limit", T::kTime, "300s", "age after which a cached smtp connection is no longer reused"},
    {"smtp_data_done_timeout", T::kTime, "600s", "time limit for the smtp server's reply after the end of the message"},
    {"smtp_data_init_timeout", T::kTime, "120s", "time limit for the smtp server's reply to DATA"},
    {"smtp_data_xfer_timeout", T::kTime, "180s", "time limit for sending each part of the message content over smtp"},
    {"smtp_defer_if_no_mx_address_found", T::kBool, "no", "defer instead of bounce when no MX host of a domain has an address"},
    {"smtp_destination_concurrency_limit", T::kInt, "$default_destination_concurrency_limit", "parallel deliveries to one destination by the smtp transport"},
    {"smtp_destination_recipient_limit", T::kInt, "$default_destination_recipient_limit", "recipients in one delivery request of the smtp transport"},
    {"smtp_fallback_relay", T::kList, "$fallback_relay", "next hops the smtp client tries when a destination cannot be found or its servers all fail temporarily"},
    {"smtp_header_checks", T::kTables, "", "the smtp client's header checks for outgoing mail: IGNORE, REPLACE, PREPEND, WARN, INFO, DUNNO"},
    {"smtp_helo_name", T::kString, "$myhostname", "host name that the smtp client sends in EHLO or HELO"},
    {"smtp_helo_timeout", T::kTime, "300s", "time limit for the smtp server's greeting and its reply to EHLO/HELO"},
    {"smtp_line_length_limit", T::kInt, "990", "longest header or body line the smtp client sends; longer header lines are folded (CRLF SPACE), body lines broken (CRLF); 0: no limit"},
    {"smtp_mail_timeout", T::kTime, "300s", "time limit for the smtp server's reply to MAIL FROM"},
    {"smtp_mime_header_checks", T::kTables, "", "the smtp client's checks of MIME headers in outgoing mail"},
    {"smtp_mx_address_limit", T::kInt, "5", "most server addresses tried for one delivery (0: no limit)"},
    {"smtp_mx_session_limit", T::kInt, "2", "most server sessions (greeting received) tried for one delivery (0: no limit)"},
    {"smtp_nested_header_checks", T::kTables, "", "the smtp client's checks of the headers of attached messages in outgoing mail"},
    {"smtp_quit_timeout", T::kTime, "300s", "time limit for the smtp server's reply to QUIT"},
    {"smtp_rcpt_timeout", T::kTime, "300s", "time limit for the smtp server's reply to RCPT TO"},
    {"smtp_rset_timeout", T::kTime, "20s", "time limit for the smtp server's reply to RSET"},
    {"smtp_sasl_auth_enable", T::kBool, "no", "log in to servers listed in smtp_sasl_password_maps with AUTH"},
    {"smtp_sasl_mechanism_filter", T::kList, "", "AUTH mechanisms the smtp client may use (PLAIN, LOGIN); empty: both"},
    {"smtp_sasl_password_maps", T::kTables, "", "tables of next hop ([host]:port, host, or domain) to user:password for AUTH"},
    {"smtp_sasl_security_options", T::kList, "noplaintext, noanonymous", "smtp client AUTH without TLS: noanonymous allows PLAIN/LOGIN; noplaintext (and noactive, nodictionary, mutual_auth, forward_secrecy) exclude them"},
    {"smtp_sasl_tls_security_options", T::kList, "$smtp_sasl_security_options", "smtp_sasl_security_options in force over a TLS connection"},
    {"smtp_skip_5xx_greeting", T::kBool, "yes", "try the next smtp server after a 5xx greeting instead of bouncing"},
    {"smtp_starttls_timeout", T::kTime, "300s", "time limit for the smtp client's TLS handshake"},
    {"smtp_tcp_port", T::kString, "25", "port the smtp client dials when a next hop names none"},
    {"smtp_tls_CAfile", T::kString, "", "PEM file of CA certificates that the smtp client trusts for server certificates"},
    {"smtp_tls_CApath", T::kString, "", "directory of PEM CA certificates that the smtp client trusts"},
    {"smtp_tls_cert_file", T::kString, "", "PEM certificate that the smtp client presents when a server asks for one (optional)"},
    {"smtp_tls_ciphers", T::kString, "medium", "cipher grade (export, low, medium, high) of the smtp client with opportunistic TLS"},
    {"smtp_tls_key_file", T::kString, "$smtp_tls_cert_file", "PEM private key of smtp_tls_cert_file"},
    {"smtp_tls_loglevel", T::kInt, "0", "smtp client TLS logging: 0 failures only, 1 connection summary, 2 handshake, 4+ GnuTLS debug"},
    {"smtp_tls_mandatory_ciphers", T::kString, "medium", "cipher grade of the smtp client where TLS is required (encrypt, verify, secure)"},
    {"smtp_tls_mandatory_protocols", T::kString, ">=TLSv1", "TLS protocols of the smtp client where TLS is required (encrypt, verify, secure)"},
    {"smtp_tls_policy_maps", T::kTables, "", "tables of next hop ([host]:port, domain, .domain) to a TLS policy: level [match=...] [protocols=...] [ciphers=...]"},
    {"smtp_tls_protocols", T::kString, ">=TLSv1", "TLS protocols of the smtp client with opportunistic TLS (may)"},
    {"smtp_tls_secure_cert_match", T::kList, "nexthop, dot-nexthop", "names a server certificate must match at level secure (nexthop, dot-nexthop, hostname, names, .domains)"},
    {"smtp_tls_security_level", T::kString, "", "smtp client TLS: none, may, encrypt, verify or secure (dane is not supported yet)"},
    {"smtp_tls_verify_cert_match", T::kList, "hostname", "names a server certificate must match at level verify (hostname, nexthop, dot-nexthop, names, .domains)"},
    {"smtpd_banner", T::kString, "$myhostname ESMTP $mail_name", "text after 220 in the SMTP greeting"},
    {"smtpd_client_connection_count_limit", T::kInt, "50", "simultaneous sessions one client address may hold in one smtpd process (0: no limit)"},
    {"smtpd_client_event_limit_exceptions", T::kList, "$mynetworks", "clients exempt from smtpd_client_connection_count_limit"},
    {"smtpd_client_restrictions", T::kList, "", "restrictions applied when a client connects"},
    {"smtpd_error_sleep_time", T::kTime, "1s", "delay before each error reply after smtpd_soft_error_limit errors"},
    {"smtpd_forbid_bare_newline", T::kString, "normalize", "bare LF in SMTP: normalize, yes (reject) or no"},
    {"smtpd_forbid_bare_newline_exclusions", T::kList, "$mynetworks", "clients exempt from smtpd_forbid_bare_newline"},
    {"smtpd_hard_error_limit", T::kInt, "20", "errors after which smtpd disconnects (421)"},
    {"smtpd_helo_required", T::kBool, "no", "require HELO or EHLO before MAIL"},
    {"smtpd_helo_restrictions", T::kList, "", "restrictions applied to the HELO/EHLO name"},
    {"smtpd_history_flush_threshold", T::kInt, "100", "transcript lines after which EHLO, RSET or end of DATA send a pending postmaster notice and start afresh"},
    {"smtpd_policy_service_default_action", T::kString, "451 4.3.5 Server configuration problem", "the access action used when a check_policy_service server gives no answer (timeout, closed connection, no action=)"},
    {"smtpd_policy_service_max_idle", T::kTime, "300s", "time after which an idle connection to a policy server is closed"},
    {"smtpd_policy_service_max_ttl", T::kTime, "1000s", "time after which an active connection to a policy server is closed (after its current request)"},
    {"smtpd_policy_service_policy_context", T::kString, "", "sent to policy servers as the policy_context attribute, so that one server can tell its callers apart"},
    {"smtpd_policy_service_request_limit", T::kInt, "0", "requests sent over one connection to a policy server before it is closed (0: no limit)"},
    {"smtpd_policy_service_retry_delay", T::kTime, "1s", "delay before a request is sent again after a policy server connection failed"},
    {"smtpd_policy_service_timeout", T::kTime, "100s", "time limit for connecting to, writing to and reading from a policy server"},
    {"smtpd_policy_service_try_limit", T::kInt, "2", "attempts per request to a policy server before smtpd_policy_service_default_action applies"},
    {"smtpd_recipient_limit", T::kInt, "1000", "recipients accepted in one message (452 beyond)"},
    {"smtpd_recipient_overshoot_limit", T::kInt, "1000", "RCPTs over smtpd_recipient_limit (452 4.5.3) that do not count as errors toward smtpd_hard_error_limit"},
    {"smtpd_recipient_restrictions", T::kList, "", "restrictions applied to RCPT TO after smtpd_relay_restrictions"},
    {"smtpd_relay_restrictions", T::kList, "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination", "relay control applied to RCPT TO"},
    {"smtpd_sasl_auth_enable", T::kBool, "no", "offer SMTP AUTH"},
    {"smtpd_sasl_authenticated_header", T::kBool, "no", "name the AUTH user in the Received: header"},
    {"smtpd_sasl_failure_delay", T::kTime, "1s", "delay before each answer to a failed AUTH (postern)"},
    {"smtpd_sasl_max_failures", T::kInt, "3", "failed AUTH attempts after which smtpd answers 421 and disconnects (postern)"},
    {"smtpd_sasl_password_maps", T::kTables, "", "tables of AUTH user name to crypt hash (yescrypt, bcrypt, SHA-crypt; see postern encrypt)"},
    {"smtpd_sender_login_maps", T::kTables, "", "tables of sender address (or @domain) to the AUTH users that own it"},
    {"smtpd_sender_restrictions", T::kList, "", "restrictions applied to MAIL FROM"},
    {"smtpd_soft_error_limit", T::kInt, "10", "errors after which smtpd delays each error reply"},
    {"smtpd_starttls_timeout", T::kTime, "${stress?{10}:{300}}s", "time limit for a client's TLS handshake (STARTTLS or wrapper mode)"},
    {"smtpd_timeout", T::kTime, "300s", "time limit for a client to send a command or data (421 after it)"},
    {"smtpd_tls_auth_only", T::kBool, "yes", "offer AUTH only over TLS (Postfix's default is no)"},
    {"smtpd_tls_cert_file", T::kString, "", "PEM certificate of the server"},
    {"smtpd_tls_chain_files", T::kList, "", "PEM files each holding a private key and its certificate chain (instead of cert/key files)"},
    {"smtpd_tls_ciphers", T::kString, "medium", "cipher grade (export, low, medium, high) with opportunistic TLS"},
    {"smtpd_tls_key_file", T::kString, "$smtpd_tls_cert_file", "PEM private key of the server"},
    {"smtpd_tls_loglevel", T::kInt, "0", "smtpd TLS logging: 0 errors only, 1 the established line, 2 also the handshake, 4+ GnuTLS debug"},
    {"smtpd_tls_mandatory_ciphers", T::kString, "medium", "cipher grade where TLS is required (encrypt, wrapper mode)"},
    {"smtpd_tls_mandatory_protocols", T::kString, ">=TLSv1", "TLS protocols where TLS is required (encrypt, wrapper mode)"},
    {"smtpd_tls_protocols", T::kString, ">=TLSv1", "TLS protocols smtpd accepts with opportunistic TLS"},
    {"smtpd_tls_received_header", T::kBool, "no", "put the TLS protocol and cipher in the Received: header"},
    {"smtpd_tls_security_level", T::kString, "", "server TLS: none, may or encrypt"},
    {"smtpd_tls_session_cache_timeout", T::kTime, "3600s", "lifetime of TLS session tickets (0: no tickets)"},
    {"smtpd_tls_wrappermode", T::kBool, "no", "TLS from the first byte instead of STARTTLS (port 465)"},
    {"smtputf8_enable", T::kBool, "yes", "accept and deliver SMTPUTF8 mail"},
    {"stats_database", T::kString, "$queue_directory/stats.lmdb", "counters kept per hour and per destination route for 31 days (postern show stats)"},
    {"stats_flush_interval", T::kTime, "1s", "how often a process writes its pending counters to stats_database"},
    {"stop_grace_time", T::kTime, "10s", "time that master, when stopped, lets workers finish their clients before it kills them"},
    {"stress", T::kString, "", "non-empty: the system is overloaded; defaults written ${stress?{short}:{normal}} take their short value (set by hand or with -o: postern's master does not set it)"},
    {"strict_rfc821_envelopes", T::kBool, "no", "require <brackets> around MAIL FROM and RCPT TO addresses"},
    {"syslog_facility", T::kString, "mail", "syslog facility of log lines"},
    {"syslog_name", T::kString, "${multi_instance_name?{$multi_instance_name}:{postern}}", "prefix of log lines (syslog_name/program[pid]); set postfix for log tools and filters that expect postfix/smtpd[pid]: (pflogsumm, fail2ban, logwatch)"},
    {"transport_maps", T::kTables, "", "tables of recipient or domain to transport:nexthop"},
    {"transport_retry_time", T::kTime, "60s", "time a transport that failed is left alone"},
    {"virtual_alias_expansion_limit", T::kInt, "1000", "most final recipients one virtual alias expansion may produce"},
    {"virtual_alias_maps", T::kTables, "", "tables that rewrite recipient addresses before delivery"},
    {"virtual_alias_recursion_limit", T::kInt, "1000", "deepest nesting of a virtual alias expansion"},
};

}  // namespace

std::string_view ParamTypeName(ParamType t) {
  switch (t) {
    case T::kString: return "string";
    case T::kBool: return "boolean";
    case T::kInt: return "integer";
    case T::kTime: return "time";
    case T::kSize: return "size";
    case T::kList: return "list";
    case T::kTables: return "tables";
  }
  return "string";
}

std::span<const ParamDef> Registry() { return kParams; }

const ParamDef* FindParam(std::string_view name) {
  auto it = std::lower_bound(std::begin(kParams), std::end(kParams), name,
                             [](const ParamDef& d, std::string_view n) { return d.name < n; });
  return it != std::end(kParams) && it->name == name ? &*it : nullptr;
}

std::string DefaultValue(const ParamDef& def) {
  return def.compute ? def.compute() : std::string(def.default_value);
}

}  // namespace postern::config
