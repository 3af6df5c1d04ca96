// smtp/delivery.h — one delivery request from qmgr, start to end: take the
// request, find the next hop's servers, connect (or take a cached
// connection), run one SMTP/LMTP transaction, answer one result per recipient
// with a Postfix-shaped log line, then cache or close the connection.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "postern/cleanup/header_edit.h"
#include "postern/dns/resolver.h"
#include "postern/ipc/call.h"
#include "postern/ipc/delivery.h"
#include "postern/ipc/frame.h"
#include "postern/net/connect.h"
#include "postern/queue/queue.h"
#include "postern/server/delivery_conn.h"
#include "postern/server/server.h"
#include "postern/smtp/data.h"
#include "postern/sts/resolver.h"
#include "smtp/body_out.h"
#include "smtp/generic.h"
#include "smtp/cache.h"
#include "smtp/conn.h"
#include "smtp/lookup_failure.h"
#include "smtp/nexthop.h"
#include "smtp/sasl_client.h"
#include "smtp/settings.h"
#include "smtp/tls_policy.h"

namespace postern::smtp_client {

// What lives as long as the worker process.
struct Worker {
  server::Context* ctx = nullptr;
  Settings settings;
  std::unique_ptr<queue::Queue> queue;
  std::unique_ptr<dns::Resolver> resolver;
  std::optional<dns::IpAddress> bind;
  std::unique_ptr<Cache> cache;
  std::unique_ptr<SaslClient> sasl;  // null: smtp_sasl_auth_enable = no
  std::unique_ptr<TlsClient> tls;    // null: no TLS level above none anywhere
  std::unique_ptr<sts::Resolver> sts;  // null: no "sts:" in smtp_tls_policy_maps
  Generic generic;                   // smtp_generic_maps
  // postern send (send.h): the message from standard input instead of the
  // queue, and the login AUTH uses when smtp_sasl_password_maps has none for
  // the server (or one for another user): given what the table had, the login.
  std::optional<std::string> message;
  std::function<std::optional<SaslCredentials>(std::optional<SaslCredentials> found)> login;
};

// Everything the Worker needs but the master-side wiring: settings, resolver,
// connection cache, AUTH and TLS (with credentials loaded before privileges
// were dropped), and the queue unless `open_queue` is false (postern send).
Result<void> InitWorker(Worker* w, server::Context& ctx, bool lmtp, std::shared_ptr<tls::Credentials> creds,
                        bool open_queue);

class Delivery : public std::enable_shared_from_this<Delivery> {
 public:
  Delivery(Worker& w, std::shared_ptr<server::DeliveryConn> qmgr, ipc::DeliveryRequest req);
  // postern send: one request built by the command; `done` gets one result
  // per recipient instead of qmgr.
  using ResultsFn = std::function<void(const std::vector<ipc::DeliveryResult>&)>;
  Delivery(Worker& w, ipc::DeliveryRequest req, ResultsFn done);
  void Start();

 private:
  using Clock = std::chrono::steady_clock;
  struct Target {
    std::string host;
    dns::IpAddress addr;
    uint16_t port = 0;
    std::string path;  // unix socket (lmtp)
    uint16_t preference = 0;  // the MX host's
    bool dnssec = false;     // its address records were validated (AD): DANE may apply
    bool mx_secure = true;   // the MX answer that named it was validated too (or there was none)
  };
  // Adds a server's addresses that inet_protocols allows.
  // dnssec: their address records were validated (DANE may apply);
  // mx_secure: so was the MX answer (smtp_tls_dane_insecure_mx_policy otherwise).
  void AddTargets(const std::string& host, const std::vector<dns::IpAddress>& addrs, uint16_t preference,
                  bool dnssec = false, bool mx_secure = true);
  // smtp_address_preference among targets_[from...] of equal MX preference.
  void OrderTargets(size_t from);

  // Request and routing.
  void OnRequest();
  queue::Outcome<queue::BodyReader> OpenBody() const;  // the queue's, or postern send's message
  void Resolve();
  void OnMx(dns::MxResult r);
  // An address lookup as smtp_host_lookup says: DNS, the system's (native),
  // or DNS and then native for a host DNS does not know.
  void LookupHost(const std::string& host, std::function<void(dns::AddressResult)> fn);
  // smtp_host_lookup with native: MX hosts' addresses from the system's resolver
  // (all of them, or those DNS gave none), one after the other; then OnMx again.
  void NativeMxHosts(std::shared_ptr<dns::MxResult> r, size_t i);
  void OnAddresses(dns::AddressResult r);
  void NoServerFound(LookupFailure f, bool final);
  void TryNext();
  void TryFallback();
  void TryRelay(const std::string& text);  // a fallback relay or postern send's -g gateway
  bool Ignored(const std::string& mx_host);  // smtp_mx_ignore, postern send -b
  void Connect(const Target& t);
  void OnConnected(const Target& t, Result<std::unique_ptr<event::Stream>> s);
  void SiteFailed(std::string reason, std::string dsn, bool permanent);
  // loop.cc: mail that would come back to this host (Postfix's "loops back
  // to myself"): fewer MX hosts to try, a bounce, or best_mx_transport.
  bool LoopDetect() const;
  bool CheckSelfMx(dns::MxResult* r);
  bool CheckSelfHost(const dns::AddressResult& r);
  void Looped(const std::string& dsn, const std::string& reason);
  void PassToBestMx();
  void OnPassEnd(ipc::Call::End how, const std::string& why);
  // Session setup.
  void Greeting();
  // HELO instead of EHLO after this greeting: smtp_never_send_ehlo,
  // smtp_always_send_ehlo = no without "ESMTP", PIX disable_esmtp.
  bool HeloFirst(const smtp::Reply& greeting);
  // smtp_pix_workarounds for a PIX-mangled greeting, else smtp_pix_workaround_maps.
  void PixCheck(const smtp::Reply& greeting);
  // smtp_delivery_status_filter: a new status and text for "dsn reason".
  void FilterStatus(ipc::DeliveryStatus* st, std::string* dsn, std::string* reason);
  std::string EnvelopeAddress(const std::string& address) const;  // smtp_quote_rfc821_envelope
  void Helo(bool helo_fallback);
  void AwaitHelo(bool helo_fallback);
  void OnHeloReply(bool helo_fallback, Result<smtp::Reply> r);
  // starttls.cc: STARTTLS after EHLO as the destination's TLS policy says,
  // then EHLO again; or on to AUTH and the transaction.
  Result<void> LoadTlsPolicy(const std::optional<TlsPolicy>& sts);
  // sts.cc: MTA-STS (RFC 8461) for a domain reached by MX lookup when
  // smtp_tls_policy_maps has "sts:" and no table before it names the
  // destination: the policy is resolved on the loop, then the TLS policy is
  // set (PolicyReady) and routing goes on; enforce mode also refuses MX
  // hosts the policy does not list.
  void ResolveTlsPolicy();
  void OnStsVerdict(sts::Verdict v);
  void PolicyReady(const std::optional<TlsPolicy>& sts);
  bool StsRefuses(const Target& t);
  void AfterHelo();
  void StartTls();
  void Handshake();  // after STARTTLS's 220, or at once in wrapper mode
  void OnTlsReady(Result<void> r);
  bool FingerprintMatched(std::string* detail) const;
  // dane.cc: the TLSA records of the server being tried (RFC 7672), looked up
  // once per server before STARTTLS at level dane or dane-only.
  bool DaneLookupNeeded() const;
  void LookupTlsa();
  void OnTlsa(dns::TlsaResult r);
  bool TlsRequired() const;  // the level's, or DANE's for this server
  bool DaneVerified(std::string* detail) const;
  std::string TlsSessionKey() const;  // this connection's smtp_tls_session_cache_database key
  void RetryPlaintext();
  // sasl_client.cc: AUTH after EHLO when a login is configured for the server.
  void Authenticate();
  void AuthStep(std::string mech, std::string user, std::shared_ptr<std::vector<std::string>> steps, size_t next);
  // The mail transaction, after XFORWARD (smtp_send_xforward_command) when
  // the server offers it: the original client's attributes from the queue.
  void Transaction();
  std::string XforwardCommand();
  void MailTransaction();
  // SMTPUTF8 mail for a server without it: the bounce reason, or "" when the
  // envelope and headers are ASCII and it may go without SMTPUTF8.
  Result<std::string> Utf8Refusal();
  void BodyFailed(mime::Error e);
  // smtp_generic_maps on the envelope; false: a table failed (all deferred).
  bool MapEnvelope();
  bool FeedBody(std::string_view in, bool last, std::string* out);
  std::string MailCommand() const;
  std::string RcptCommand(size_t i) const;
  void SendRcpt(size_t i);
  // verify(8)'s address probe: MAIL and RCPT only, no body, then RSET.
  bool probe() const { return req_.flags & queue::kFlagVerifyProbe; }
  void OnMail(const smtp::Reply& r);
  void OnRcpt(size_t i, const smtp::Reply& r);
  void OnDataReply(const smtp::Reply& r);
  void SendBody();
  void OnBodyWritten(int status, bool last);
  void DelayedDot();  // PIX delay_dotcrlf: ".\r\n" after smtp_pix_workaround_delay_time
  void OnFinalReply(size_t index, const smtp::Reply& r);
  void ConnFailed(const std::string& why);
  // Results.
  void Set(size_t i, ipc::DeliveryStatus st, std::string dsn, std::string reason,
           std::string relay);
  void SetReply(size_t i, const smtp::Reply& r, std::string_view in_reply_to);
  void SetAllOpen(ipc::DeliveryStatus st, const std::string& dsn, const std::string& reason,
                  const std::string& relay);
  void Finish(bool need_rset);
  void Release(bool need_rset);
  std::string LogLine(size_t i, const ipc::DeliveryResult& r) const;
  // Connection facts for qmgr's show hosts|routes|relays, sent at once.
  void Report(ipc::ConnectionFact::Kind kind, const std::string& host, const std::string& addr,
              const std::string& error = "");
  void Forward(const ipc::ConnectionFact& c);

  Worker& w_;
  const Settings& s_;
  std::shared_ptr<server::DeliveryConn> qmgr_;  // the request's connection (not with postern send)
  ipc::DeliveryRequest req_;
  ResultsFn done_;  // postern send: results go here, not to qmgr
  std::string msgid_;
  std::vector<std::optional<ipc::DeliveryResult>> results_;
  bool finished_ = false;

  Nexthop hop_;
  std::string hop_text_;  // the next hop as written: the request's, or the fallback relay being tried
  std::string cache_key_;
  dns::Ticket ticket_;
  bool mx_native_done_ = false;
  std::vector<Target> targets_;
  size_t next_target_ = 0;
  Target current_;  // the server being tried
  TlsPolicy tls_policy_;
  std::shared_ptr<sts::Query> sts_query_;
  std::optional<sts::Policy> sts_policy_;  // the destination's MTA-STS policy (enforce or testing)
  std::optional<tls::Config> tls_cfg_;  // when the policy's level is above none
  bool plaintext_retry_ = false;  // current_ again without TLS (may: the handshake failed)
  long long dane_session_ = -1;   // sessions_ when current_'s TLSA records were looked up
  std::vector<dns::Tlsa> dane_tlsa_;  // its usable TLSA records; empty: no DANE authentication
  bool dane_required_ = false;        // TLS required for current_ (dane-only, or TLSA records exist)
  bool dane_insecure_mx_ = false;     // current_'s TLSA records came by an insecure MX: success is Trusted
  long long sessions_ = 0;
  // The destination being tried: its first target and the sessions before it
  // (smtp_mx_*_limit count per destination); fallback relays come after it.
  size_t dest_first_target_ = 0;
  long long dest_sessions_base_ = 0;
  size_t next_fallback_ = 0;
  bool in_fallback_ = false;
  bool in_gateway_ = false;  // postern send -g: the gateway is being tried
  bool final_nexthop_ = false;  // we are an MX host, or mail loops: no fallback relays
  std::unique_ptr<ipc::Call> pass_;  // the request handed to best_mx_transport
  std::vector<bool> passed_;              // results that transport reported (and logged)
  std::string last_reason_ = "no server to deliver to";
  std::string last_dsn_ = "4.4.1";
  std::string last_relay_ = "none";
  bool last_permanent_ = false;
  net::Connector connector_;
  std::unique_ptr<Conn> conn_;

  std::optional<queue::BodyReader> body_;
  uint64_t body_size_ = 0;
  std::optional<BodyOut> body_out_;
  // smtp_generic_maps: the envelope as sent (set once per request) and the
  // header stage in front of body_out_.
  std::optional<std::string> wire_sender_;
  std::vector<std::string> wire_rcpts_;
  cleanup::HeaderEditor generic_headers_;
  bool generic_failed_ = false;
  bool downgrade_ = false;  // 8bit parts go out as quoted-printable (no 8BITMIME)
  std::vector<char> read_buf_;
  event::Timer xfer_timer_;
  event::Timer pix_timer_;
  std::shared_ptr<Delivery> pix_hold_;  // this delivery, while the PIX-delayed dot waits
  bool pix_esmtp_off_ = false, pix_delay_dot_ = false;  // PIX workarounds for conn_
  bool reused_ = false;         // conn_ came from the cache
  bool mail_answered_ = false;  // the server answered MAIL on conn_
  bool mail_failed_ = false;
  smtp::Reply mail_reply_;
  std::vector<size_t> accepted_;
  size_t final_replies_ = 0;

  Clock::time_point t_start_ = Clock::now(), t_ready_ = t_start_;
  bool ready_ = false;  // a session reached MAIL (t_ready_ is set)
  double queued_seconds_ = 0;  // arrival to the request (Postfix's delays=a)
};

}  // namespace postern::smtp_client
