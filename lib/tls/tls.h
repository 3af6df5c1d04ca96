// tls/tls.h — GnuTLS owners shared by smtpd and the smtp client: credentials,
// priorities (mapped from Postfix's protocol/cipher parameters), the session
// ticket key shared by all smtpd processes through a file, and what a
// finished handshake tells us (Info, peer certificate checks).
#pragma once

#include <gnutls/gnutls.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "postern/util/result.h"

namespace postern::tls {

enum class Role { kServer, kClient };

// The GnuTLS priority string for Postfix-style smtpd_tls_protocols (e.g.
// ">=TLSv1.2", "!SSLv2, !SSLv3, !TLSv1", "TLSv1.2 TLSv1.3") and
// smtpd_tls_ciphers (export, low, medium, high).
Result<std::string> PriorityString(std::string_view protocols, std::string_view ciphers);

// gnutls_certificate_credentials_t: the server's key and chain, or the
// client's trust anchors. Loaded once per process and shared by sessions.
class Credentials {
 public:
  ~Credentials();
  Credentials(const Credentials&) = delete;
  Credentials& operator=(const Credentials&) = delete;
  // chain_files (smtpd_tls_chain_files: key then certificates in each file)
  // win over cert_file/key_file, as in Postfix.
  static Result<std::shared_ptr<Credentials>> Server(const std::string& cert_file, const std::string& key_file,
                                                     const std::vector<std::string>& chain_files);
  // The client's trust anchors from a PEM file and/or a directory of PEM
  // files (both empty: none, every peer is "Untrusted"), and optionally its
  // own certificate and key, sent when a server asks for one.
  static Result<std::shared_ptr<Credentials>> Client(const std::string& ca_file, const std::string& ca_path = "",
                                                     const std::string& cert_file = "",
                                                     const std::string& key_file = "");
  // The trust anchors of a WebPKI client (HTTPS): a PEM file, or the
  // system's trust store when `ca_file` is empty.
  static Result<std::shared_ptr<Credentials>> WebPki(const std::string& ca_file);
  gnutls_certificate_credentials_t get() const { return c_; }

 private:
  Credentials() = default;
  gnutls_certificate_credentials_t c_ = nullptr;
};

// gnutls_priority_t.
class Priority {
 public:
  ~Priority();
  Priority(const Priority&) = delete;
  Priority& operator=(const Priority&) = delete;
  static Result<std::shared_ptr<Priority>> Parse(const std::string& text);
  gnutls_priority_t get() const { return p_; }
  const std::string& text() const { return text_; }

 private:
  Priority() = default;
  gnutls_priority_t p_ = nullptr;
  std::string text_;
};

// The session ticket master key, shared by every smtpd process through
// `dir`/tls_ticket_key (mode 0600). The first process creates it; a process
// that finds it older than `rotate_after_s` writes a fresh one. GnuTLS
// derives short-lived ticket keys from it by time, so tickets from one
// process resume in another.
class TicketKey {
 public:
  ~TicketKey();
  TicketKey(const TicketKey&) = delete;
  TicketKey& operator=(const TicketKey&) = delete;
  static Result<std::shared_ptr<TicketKey>> Load(const std::string& dir, uint64_t rotate_after_s);
  const gnutls_datum_t* get() const { return &key_; }
  static constexpr const char* kFileName = "tls_ticket_key";

 private:
  TicketKey() = default;
  gnutls_datum_t key_{nullptr, 0};
};

// Everything one handshake needs; shared by the sessions of a process.
struct Config {
  Role role = Role::kServer;
  std::shared_ptr<Credentials> creds;
  std::shared_ptr<Priority> priority;
  std::shared_ptr<TicketKey> ticket_key;  // server: session tickets on when set
  uint64_t ticket_lifetime_s = 3600;
  uint64_t handshake_timeout_ms = 300000;
  int loglevel = 0;
  std::string server_name;  // client: SNI, when a name (not an address)
  bool client_tickets = false;  // client: take session tickets (a session cache keeps them)
  std::string resume;           // client: session data of an earlier connection to resume
};

// What the handshake agreed on, for log lines and the Received header.
struct Info {
  std::string protocol;  // "TLSv1.3"
  std::string cipher;    // "TLS_AES_256_GCM_SHA384"
  int bits = 0;          // symmetric key bits (used/of the algorithm: equal with GnuTLS)
  bool resumed = false;
  // "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"
  std::string Summary() const;
};

// The client's judgement of the server certificate, as Postfix names it.
enum class PeerStatus { kAnonymous, kUntrusted, kTrusted, kVerified };
std::string_view PeerStatusName(PeerStatus s);  // "Anonymous", "Untrusted", ...

// Judges the peer's certificate: kAnonymous without one, kUntrusted when the
// chain does not lead to a trust anchor, kVerified when one of `names`
// matches it (a name starting with "." matches any subdomain), else kTrusted.
PeerStatus CheckPeer(gnutls_session_t s, const std::vector<std::string>& names, std::string* detail);

Info SessionInfo(gnutls_session_t s);

// postconf -T: the GnuTLS version built against ("GnuTLS 3.8.3"), the one
// loaded at run time, and the public key algorithms it offers.
std::string CompileVersion();
std::string RunVersion();
std::vector<std::string> PublicKeyAlgorithms();

// Once per process, before any session (idempotent). Sends GnuTLS's own
// debug output to our log when loglevel > 3.
void GlobalInit(int loglevel);

}  // namespace postern::tls
