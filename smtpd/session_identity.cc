// smtpd/session_identity.cc — who the client is: its reverse name looked up
// at connect and confirmed forward on the shared loop (commands wait for it,
// other sessions never do), the DNS facts restrictions ask for, Plan 9's
// foreign sender header, and debug_peer_list.
#include <fmt/format.h>

#include "postern/log/log.h"
#include "postern/smtp/address.h"
#include "postern/util/strings.h"
#include "smtpd/session.h"

namespace postern::smtpd {

namespace {

using Found = DnsFact::Result;

Found Failed(const dns::Outcome& o) { return o.temporary() ? Found::kTempFail : Found::kNotFound; }

// The resolver's answer as the restrictions see it, with how long it holds.
dns::Ticket LookupFact(dns::Resolver& r, const DnsQuery& q, std::function<void(DnsFact, uint32_t)> done) {
  switch (q.kind) {
    case DnsQuery::Kind::kAddress:
      return r.LookupAddresses(q.name, [done](dns::AddressResult a) {
        DnsFact f{a.addresses.empty() ? Failed(a.outcome) : Found::kFound, {}, a.outcome.reason};
        for (const dns::IpAddress& ip : a.addresses) f.values.push_back(ip.ToString());
        done(std::move(f), a.ttl);
      });
    case DnsQuery::Kind::kTxt:
      return r.LookupTxt(q.name, [done](dns::TxtResult t) {
        DnsFact f{t.records.empty() ? Failed(t.outcome) : Found::kFound, std::move(t.records), t.outcome.reason};
        done(std::move(f), t.ttl);
      });
    case DnsQuery::Kind::kMailDomain:
      return r.LookupMx(q.name, [done](dns::MxResult m) {
        // MX records, whatever their hosts resolve to, or the domain's own address.
        Found found = m.null_mx                               ? Found::kNullMx
                      : (!m.implicit && !m.hosts.empty()) || m.outcome.ok() ? Found::kFound
                                                                             : Failed(m.outcome);
        done(DnsFact{found, {}, m.outcome.reason}, 0);
      });
    case DnsQuery::Kind::kMxHosts:
      return r.LookupMx(q.name, [done](dns::MxResult m) {
        // Every exchanger by name, whatever its addresses (the check looks them up itself).
        DnsFact f{m.null_mx ? Found::kNullMx : m.hosts.empty() ? Failed(m.outcome) : Found::kFound, {},
                  m.outcome.reason};
        for (const dns::MxHost& h : m.hosts) f.values.push_back(h.name);
        done(std::move(f), 0);
      });
    case DnsQuery::Kind::kNsHosts:
      return r.LookupNs(q.name, [done](dns::NsResult n) {
        DnsFact f{n.records.empty() ? Failed(n.outcome) : Found::kFound, std::move(n.records), n.outcome.reason};
        done(std::move(f), n.ttl);
      });
  }
  return {};
}

const char* KindName(DnsQuery::Kind k) {
  switch (k) {
    case DnsQuery::Kind::kAddress: return "A";
    case DnsQuery::Kind::kTxt: return "TXT";
    case DnsQuery::Kind::kMailDomain: return "MX";
    case DnsQuery::Kind::kMxHosts: return "MX hosts";
    case DnsQuery::Kind::kNsHosts: return "NS";
  }
  return "";
}

}  // namespace

// --- the client's names --------------------------------------------------

void Session::StartNameLookup() {
  auto ip = dns::IpAddress::Parse(client_addr_);
  dns::Resolver* r = svc_->resolver();
  if (!ip || !r) {
    // No resolver: the name cannot be known now, which is not a "no".
    name_status_ = reverse_status_ = r ? NameStatus::kPermFail : NameStatus::kTempFail;
    return LogConnect();
  }
  naming_ = true;
  std::weak_ptr<Session> weak = weak_from_this();
  name_lookup_ = r->LookupConfirmedName(*ip, [weak](dns::ConfirmedNameResult res) {
    auto s = weak.lock();
    if (!s || s->finished_) return;
    s->OnClientName(res);
  });
}

// Postfix's smtpd_peer: a PTR name that is no valid host name counts as none;
// a name is the client's only when its addresses include the client's.
void Session::OnClientName(const dns::ConfirmedNameResult& r) {
  auto self = shared_from_this();
  naming_ = false;
  NameStatus failed = r.outcome.temporary() ? NameStatus::kTempFail : NameStatus::kPermFail;
  if (!r.reverse_name.empty() && smtp::IsValidDomain(r.reverse_name, false)) {
    reverse_name_ = ToLower(r.reverse_name);
    reverse_status_ = NameStatus::kOk;
  } else {
    reverse_status_ = r.reverse_name.empty() ? failed : NameStatus::kPermFail;
  }
  if (!r.name.empty() && reverse_status_ == NameStatus::kOk) {
    client_name_ = ToLower(r.name);
    name_status_ = NameStatus::kOk;
  } else {
    name_status_ = reverse_status_ == NameStatus::kOk ? failed : reverse_status_;
    // Postfix's "warning: hostname X does not resolve to address Y".
    if (reverse_status_ == NameStatus::kOk) log::Warning("{}", r.outcome.reason);
  }
  LogConnect();
  if (milter_after_name_ && !closing_) return MilterConnect();  // session_milter.cc, then the banner
  if (!closing_) AfterWait();  // the commands that came meanwhile
}

void Session::LogConnect() {
  if (connect_logged_) return;
  connect_logged_ = true;
  log::Info("connect from {}", Who());
  const Settings& st = svc_->settings();
  debug_level_ = uint8_t(st.debug_peers.LevelFor(client_name_, client_addr_));
  entry_.SetDebug(debug_level_ >= 1);  // the "< client: command" and "> client: reply" lines
}

// --- DNS facts for restrictions ------------------------------------------

// Only with a resolver (RunRcptCheck answers "temporary failure" without one).
void Session::LookupForCheck() {
  paused_ = true;
  RcptCheck& rc = *rcpt_check_;
  const DnsQuery& q = *rc.check.dns;
  dns::Resolver* r = svc_->resolver();
  if (debug_level_ >= 2) log::Info("{}: restriction lookup: {} {}", Who(), KindName(q.kind), q.name);
  std::weak_ptr<Session> weak = weak_from_this();
  rc.lookup = LookupFact(*r, q, [weak](DnsFact fact, uint32_t ttl) {
    auto s = weak.lock();
    if (!s || s->finished_ || s->closing_ || !s->rcpt_check_) return;
    s->OnCheckAnswer(std::move(fact), ttl);
  });
}

void Session::OnCheckAnswer(DnsFact fact, uint32_t ttl) {
  auto self = shared_from_this();
  if (debug_level_ >= 2) {
    std::string what = fact.result == Found::kFound ? "found" : "not found: " + fact.reason;
    for (const std::string& v : fact.values) what += " " + v;
    log::Info("{}: restriction lookup answered: {}", Who(), what);
  }
  Policy& pol = svc_->policy();
  pol.AddDnsAnswer(rcpt_check_->check, std::move(fact), ttl);
  RunRcptCheck(pol.CheckRecipient(rcpt_check_->check, CheckFacts()));
  AfterWait();  // unless another lookup or service is to be asked
}

// Plan 9's smtpd -f: a message that claims one of our senders from outside
// carries a header naming the client (smtpd_foreign_sender_header).
void Session::AddForeignSenderHeader() {
  const std::string& name = svc_->settings().foreign_sender_header;
  if (name.empty() || local_uid_) return;
  Facts f = MakeFacts(nullptr);
  if (svc_->policy().ForeignLocalSender(f) != std::optional<bool>(true)) return;
  txn_->prepend.push_back(fmt::format("{}: <{}> from {} (not authenticated, outside mynetworks)", name,
                                      txn_->sender.Canonical(), Who()));
}

}  // namespace postern::smtpd
