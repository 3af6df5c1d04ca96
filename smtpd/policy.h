// smtpd/policy.h — who may send what to whom: mynetworks, the local and relay
// destinations, and Postfix's smtpd_*_restrictions lists (evaluated at RCPT
// time, as Postfix does with smtpd_delay_reject = yes; the data and
// end-of-data lists at DATA and after the final dot).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postern/config/maincf.h"
#include "postern/dns/resolver.h"
#include "postern/ipc/verify.h"
#include "postern/rewrite/virtual.h"
#include "postern/route/destinations.h"
#include "postern/smtp/address.h"
#include "postern/table/cidr.h"
#include "postern/table/table.h"
#include "postern/util/result.h"
#include "smtpd/auth.h"
#include "smtpd/policy_dns.h"
#include "smtpd/policy_proto.h"

namespace postern::cache {
class Cache;
}

namespace postern::smtpd {

// A list of client networks (mynetworks, smtpd_*_exclusions): CIDR entries,
// type:table entries looked up with the client address, and host names,
// which stand for their addresses once ResolveHosts has found them.
class NetworkList {
 public:
  static Result<NetworkList> Parse(const std::vector<std::string>& entries);
  // Adds the machine's own addresses per mynetworks_style (host, subnet, class).
  Result<void> AddInterfaces(std::string_view style);
  // Looks up the A/AAAA records of the host-name entries on the loop; a name
  // that does not resolve is named in one warning (`param` says where).
  void ResolveHosts(dns::Resolver* resolver, std::string_view param);
  bool has_hosts() const { return !hosts_->entries.empty(); }
  // A host name that has not resolved (yet): the list cannot say "no".
  bool undecided() const;
  // True when addr (text form) is in the list; nullopt when a table failed
  // or, with no other entry matching, a host name is undecided().
  std::optional<bool> Contains(std::string_view addr) const;

 private:
  struct Host {
    std::string name;
    bool resolved = false;
    std::vector<table::Network> nets;
    dns::Ticket ticket;
  };
  // Shared: lookups finish after the list has been moved into its owner.
  struct Hosts {
    std::vector<Host> entries;
  };
  std::vector<table::Network> nets_;
  std::vector<std::shared_ptr<table::Table>> tables_;
  std::shared_ptr<Hosts> hosts_ = std::make_shared<Hosts>();
};

// The outcome of a restriction list (or of all of them).
struct Verdict {
  enum class Kind { kDunno, kPermit, kReject };
  Kind kind = Kind::kDunno;
  int code = 0;
  std::string enhanced;
  std::string text;  // without code and enhanced status
  bool temporary = false;  // a table could not be read: 451
  std::string check{};     // the restriction that rejected (smtp.check.CHECK.reject)
  static Verdict Permit() { return {Kind::kPermit, 0, "", "", false, ""}; }
  bool rejected() const { return kind == Kind::kReject; }
};

// How a client name was found (Postfix's name_status): kTempFail when a DNS
// lookup on the way failed temporarily, kPermFail when there is none.
enum class NameStatus : uint8_t { kOk, kTempFail, kPermFail };

// What the restrictions see of a session at the time of one RCPT.
struct Facts {
  std::string_view client_name;  // forward-confirmed; "unknown" without one
  std::string_view reverse_client_name;  // first PTR name; "unknown" without one
  NameStatus client_name_status = NameStatus::kOk, reverse_name_status = NameStatus::kOk;
  std::string_view client_addr;
  std::string_view helo;         // empty when no HELO/EHLO was given
  const smtp::Address* sender = nullptr;
  const smtp::Address* recipient = nullptr;
  bool sasl_authenticated = false;
  std::string_view sasl_username;  // empty unless authenticated
  // DATA and end of data: recipient is set only with exactly one recipient
  // (Postfix's smtpd_check_data); recipients names them all (sorted, for keys).
  size_t recipient_count = 0;  // accepted so far (RCPT: before this one)
  std::string_view recipients;
  std::string_view content_md5;  // end of data: hex MD5 of the client's headers and body
  bool ill_pipelining = false;   // commands sent ahead where RFC 2920 does not allow them
};

using route::Destination;

// What access actions (from tables or a policy service) ask of the message
// besides a verdict: PREPEND, HOLD, DISCARD, WARN, REDIRECT, BCC, FILTER;
// the session applies them when the RCPT is accepted.
struct Effects {
  std::vector<std::string> prepend;  // header lines, without CRLF
  bool hold = false;
  bool discard = false;
  std::string redirect;  // REDIRECT: the one recipient of the message (the last action wins)
  std::string bcc;       // BCC: one more recipient (the first action wins)
  std::string filter;    // FILTER: "transport:nexthop" for every recipient (the last wins)
  // (action, text) for the session's log line: "hold", "discard", "warn".
  std::vector<std::pair<std::string, std::string>> notes;
};

class Policy {
 public:
  static Result<std::unique_ptr<Policy>> Load(const config::Config& cfg);

  // The restriction lists in Postfix's order: client, helo, sender, relay,
  // recipient; the first reject wins, a permit ends only its own list.
  // One evaluation may wait for policy services: CheckRecipient stops at a
  // check_policy_service step (check.pending set, verdict not final);
  // Resume feeds the service's action in and carries on.
  struct Step;
  // kData and kEod: smtpd_data_restrictions and smtpd_end_of_data_restrictions
  // ("<DATA>: Data command rejected", "<END-OF-MESSAGE>: End-of-data rejected").
  enum class Stage { kClient, kHelo, kSender, kRecipient, kData, kEod };
  // reject_unverified_sender/recipient: the address verify(8) is asked about.
  struct VerifyWait {
    ipc::VerifyKind kind;
    std::string address;
    Stage target;
  };
  struct Check {
    Stage at = Stage::kRecipient;  // RCPT's five lists, or the DATA or end-of-data list
    size_t list = 0, step = 0;
    bool started = false;
    const Step* pending = nullptr;  // waiting for this step's service
    std::optional<VerifyWait> verify;  // or for verify(8)
    std::vector<const Step*> class_rest;  // a restriction class's steps after the verify
    std::optional<Verdict> defer_if_permit, defer_if_reject;
    Effects effects;
    std::optional<DnsQuery> dns;  // waiting for this lookup: AddDnsAnswer, then CheckRecipient again
    std::vector<std::pair<std::string, DnsFact>> answers;  // by DnsQuery::Key, for this check
    bool warn_next = false;  // warn_if_reject: the next step's reject is only logged
    // check_greylist / check_message_limits waiting for the policy cache:
    // RunCacheStep, AddCacheAnswer, then CheckRecipient runs the step again.
    std::optional<std::string> cache;
    std::vector<std::pair<std::string, Verdict>> cache_answers;  // by step name, for this check
  };
  Verdict CheckRecipient(Check& c, const Facts& f);
  // smtpd_data_restrictions (kData) or smtpd_end_of_data_restrictions (kEod) is not empty.
  bool has_restrictions(Stage at) const { return !ListsOf(at).empty() && !ListsOf(at).front().steps.empty(); }
  // The end-of-data list greylists on the content: the session hashes it.
  bool wants_content_md5() const;
  // check_{client,reverse_client_hostname,helo,sender,recipient}_{mx,ns,a}_access.
  static bool IsServerAccess(std::string_view name);
  Verdict Resume(Check& c, std::string_view action, const Facts& f);
  // verify(8)'s answer to c.verify (an error: the service could not answer).
  Verdict ResumeVerify(Check& c, const Result<ipc::VerifyAnswer>& answer, const Facts& f);
  // smtpd's query: how long verify may wait for a probe it starts
  // (address_verify_poll_count and _poll_delay), and where it listens.
  uint32_t verify_wait_ms() const { return verify_wait_ms_; }
  const std::string& verify_socket() const { return verify_socket_; }
  // The answer to c.dns (kept for the check, and cached for its TTL), after
  // which CheckRecipient carries on from the step that asked.
  void AddDnsAnswer(Check& c, DnsFact fact, uint32_t ttl);
  // policy_cache.cc: what a step waiting for the policy cache needs of the
  // session (cache null: it could not be opened; the failure action applies).
  struct CacheContext {
    cache::Cache* cache = nullptr;
    bool count_message = true;  // check_message_limits: first check of this MAIL transaction
  };
  // Asks the cache what c.cache's step needs; done gets the step's verdict
  // exactly once, at once (LMDB) or later (Redis). Nothing of f is kept.
  void RunCacheStep(const Check& c, const Facts& f, const CacheContext& ctx, std::function<void(Verdict)> done);
  void AddCacheAnswer(Check& c, Verdict v);
  // A restriction list names check_greylist or check_message_limits.
  bool uses_cache() const { return uses_cache_; }
  struct Grey;    // greylist_* settings and tables
  struct Limits;  // smtpd_*_message_limit settings and tables
  // local_recipient_maps for a recipient in a local domain: 550 5.1.1 when
  // unknown; permit for non-local domains or when the maps are empty.
  Verdict CheckLocalRecipient(const smtp::Address& rcpt) { return CheckListed(rcpt, false); }
  // reject_unlisted_sender's and reject_unlisted_recipient's test: the same
  // tables for a sender (550 5.1.0 Sender address rejected) or a recipient.
  Verdict CheckListed(const smtp::Address& a, bool sender);
  // Plan 9's smtpd -f: a sender in one of our (local) domains, from a client
  // outside mynetworks that did not authenticate (nullopt: cannot tell now).
  std::optional<bool> ForeignLocalSender(const Facts& f);

  // route::Destinations decides, as it does for qmgr's routing; an error
  // means a table could not be read.
  Result<Destination> Classify(const smtp::Address& a);
  // The client is in mynetworks; nullopt when a table could not be read.
  std::optional<bool> InMynetworks(std::string_view client_addr) const { return mynetworks_.Contains(client_addr); }
  NetworkList& mynetworks() { return mynetworks_; }
  // permit_auth_destination's test: a local or relay domain, without
  // sender-specified routing unless allow_untrusted_routing.
  Result<bool> AuthorizedDestination(const smtp::Address& a);

  // Public for the unit tests: one parsed restriction.
  struct Step {
    std::string name;
    std::shared_ptr<table::TableList> table;  // check_*_access
    std::string error;  // not empty: the entry cannot run; it answers 451 4.3.5
    std::shared_ptr<const policy::ServiceSpec> service;  // check_policy_service
    std::string service_key;  // its argument as written: one client per key
    std::shared_ptr<const RblSite> rbl;  // reject_rbl_client and the other DNS lists
  };

 private:
  struct List {
    Stage stage;
    std::vector<Step> steps;
  };
  Result<List> ParseList(const config::Config& cfg, std::string_view param, Stage stage);
  const std::vector<List>& ListsOf(Stage at) const {
    return at == Stage::kData ? data_lists_ : at == Stage::kEod ? eod_lists_ : lists_;
  }
  Verdict RunStep(const Step& s, Stage stage, const Facts& f, int depth, Check& c);
  Verdict AccessResult(std::string_view value, Stage target, const Facts& f, int depth, Check& c);
  std::optional<Verdict> EnvelopeAction(std::string_view word, std::string_view arg, Stage target, const Facts& f,
                                        Check& c) const;
  Verdict Finalize(Check& c, Verdict v) const;
  Verdict Reject(Stage target, const Facts& f, int code, std::string_view enh, std::string_view text) const;
  Verdict RunSteps(Check& c, const Facts& f);

  // policy_dns.cc: restrictions that need DNS or the client's names.
  bool RunIdentityStep(const Step& s, const Facts& f, Check& c, Verdict* v);
  const DnsFact* Fact(Check& c, DnsQuery::Kind kind, const std::string& name);
  Verdict UnknownName(const Step& s, const Facts& f, Check& c);
  Verdict UnknownDomain(bool sender, const Facts& f, Check& c);
  Verdict DnsList(const Step& s, const Facts& f, Check& c);
  Verdict MapsRbl(const Facts& f, Check& c);
  Verdict RblReject(const Step& s, const Facts& f, std::string_view what, const std::vector<std::string>& txt);
  // policy_server.cc: check_*_mx_access, check_*_ns_access, check_*_a_access.
  Verdict ServerAccess(const Step& s, const Facts& f, int depth, Check& c);
  using AccessFn = std::function<bool(table::LookupResult, Verdict*)>;
  Verdict CheckServers(const Step& s, bool addresses_only, const std::vector<std::string>& servers,
                       const std::string& name, const AccessFn& access,
                       const std::function<Verdict(std::string_view)>& defer, Check& c);
  std::vector<Step> maps_rbl_;  // reject_maps_rbl: reject_rbl_client for each of maps_rbl_domains
  struct DnsSettings {
    int unknown_client_code = 450, unknown_hostname_code = 450, unknown_address_code = 450, rbl_code = 554;
    std::string default_rbl_reply;
    std::shared_ptr<table::TableList> rbl_reply_maps;
    std::string rbl_reply_error;  // why rbl_reply_maps could not be opened
  };
  Result<void> LoadDnsSettings(const config::Config& cfg);

  // policy_cache.cc: greylisting and message limits.
  Verdict CacheStep(const Step& s, Stage stage, const Facts& f, Check& c);
  Result<void> LoadCacheSettings(const config::Config& cfg);
  std::shared_ptr<const Grey> grey_;
  std::shared_ptr<const Limits> limits_;
  bool cache_defer_ = false;  // policy_cache_failure_action = defer
  bool uses_cache_ = false;

  // unverified_{sender,recipient}_{reject,defer}_code, _reject_reason, _tempfail_action.
  struct Unverified {
    int reject_code = 450, defer_code = 450;
    std::string reject_reason, tempfail_action;
  };
  static Result<Unverified> LoadUnverified(const config::Config& cfg, std::string_view who);
  Verdict VerifyVerdict(Check& c, const VerifyWait& w, const ipc::VerifyAnswer& a, const Facts& f);
  Verdict RunClass(const std::vector<Step>& steps, Stage stage, const Facts& f, int depth, Check& c);

  std::vector<List> lists_;                  // RCPT: client, helo, sender, relay, recipient
  std::vector<List> data_lists_, eod_lists_;  // smtpd_data_restrictions, smtpd_end_of_data_restrictions
  std::set<std::string, std::less<>> class_names_;              // smtpd_restriction_classes
  std::map<std::string, std::vector<Step>, std::less<>> classes_;  // their lists
  Unverified unverified_sender_, unverified_recipient_;
  uint32_t verify_wait_ms_ = 6000;
  std::string verify_socket_;
  DnsSettings dns_;
  DnsCache dns_cache_;
  policy::ServiceSpec policy_defaults_;  // smtpd_policy_service_*
  std::string queue_dir_;                // unix:private/name is relative to it
  NetworkList mynetworks_;
  route::Destinations dest_;
  std::string recipient_delimiter_;
  bool allow_untrusted_routing_ = false;
  struct RecipientMaps {
    std::unique_ptr<table::TableList> tables;  // null: everyone is known
    std::string error;                         // why the tables could not be opened
  };
  RecipientMaps local_maps_;  // local_recipient_maps
  RecipientMaps relay_maps_;  // relay_recipient_maps
  SenderLogin sender_login_;      // smtpd_sender_login_maps
  rewrite::VirtualAliases virtual_;
  std::string virtual_error_;  // why virtual_alias_maps could not be opened
  RecipientMaps virtual_mailbox_maps_;  // virtual_mailbox_maps
  Result<bool> LookupRecipient(table::TableList& maps, const smtp::Address& rcpt, bool local);
};

// "<name[addr]>" etc.: the thing a rejection names, per stage.
std::string RejectSubject(Policy::Stage stage, const Facts& f);

}  // namespace postern::smtpd
