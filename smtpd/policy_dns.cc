// smtpd/policy_dns.cc — restrictions on the client's names and on DNS:
// reject_unknown_*, DNS lists (reject_rbl_client and its old names reject_rbl, reject_maps_rbl, reject_rhsbl_*, permit_dnswl_client,
// permit_rhswl_client) with Postfix's replies, and the answer cache. A step whose
// answer is not known yet sets Check::dns and runs again once it is.
#include <fmt/format.h>

#include "postern/log/log.h"
#include "postern/util/strings.h"
#include "smtpd/policy.h"

namespace postern::smtpd {

namespace {

constexpr size_t kMaxReason = 200;  // of a DNS list's TXT record in a reply

using Kind = DnsQuery::Kind;

// "4.7.1" or "5.7.1": the enhanced status in the reply code's class.
std::string Dsn(int code, std::string_view detail) { return (code >= 500 ? "5." : "4.") + std::string(detail); }

Verdict Refuse(int code, std::string enh, std::string text) {
  return Verdict{Verdict::Kind::kReject, code, std::move(enh), std::move(text), false};
}

std::string Domain(std::string_view d) {
  std::string s = ToLower(d);
  while (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// A TXT record is the list operator's text, not ours: printable and bounded.
std::string Sanitize(std::string_view s) {
  std::string out;
  for (char ch : s.substr(0, kMaxReason)) out += (ch >= ' ' && ch <= '~') ? ch : '?';
  return out;
}

// Postfix's $rbl_class for each DNS list restriction.
std::string_view ListClass(std::string_view n) {
  if (n == "reject_rhsbl_reverse_client") return "Unverified Client host";
  if (n == "reject_rhsbl_helo") return "Helo command";
  if (n == "reject_rhsbl_sender") return "Sender address";
  if (n == "reject_rhsbl_recipient") return "Recipient address";
  return "Client host";
}

}  // namespace

// --- cache ---------------------------------------------------------------

std::string DnsQuery::Key() const { return std::to_string(int(kind)) + ":" + name; }

const DnsFact* DnsCache::Find(const std::string& key, Clock::time_point now) const {
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.expires <= now) return nullptr;
  return &it->second.fact;
}

void DnsCache::Put(std::string key, DnsFact fact, uint32_t ttl, Clock::time_point now) {
  if (ttl == 0 || fact.result == DnsFact::Result::kTempFail) return;
  if (entries_.size() >= kMaxEntries) {
    std::erase_if(entries_, [now](const auto& e) { return e.second.expires <= now; });
    if (entries_.size() >= kMaxEntries) entries_.clear();  // a flood of distinct names: start afresh
  }
  entries_[std::move(key)] = Entry{std::move(fact), now + std::chrono::seconds(ttl)};
}

// --- evaluation ----------------------------------------------------------

Result<void> Policy::LoadDnsSettings(const config::Config& cfg) {
  std::pair<const char*, int*> codes[] = {{"unknown_client_reject_code", &dns_.unknown_client_code},
                                          {"unknown_hostname_reject_code", &dns_.unknown_hostname_code},
                                          {"unknown_address_reject_code", &dns_.unknown_address_code},
                                          {"maps_rbl_reject_code", &dns_.rbl_code}};
  for (auto [name, out] : codes) {
    auto v = cfg.GetInt(name);
    if (!v) return Err(v.error());
    if (*v < 400 || *v > 599) return Err(std::string(name) + ": " + std::to_string(*v) + " is not a 4NN or 5NN code");
    *out = int(*v);
  }
  // Raw: its $rbl_* macros belong to the reply, not to main.cf.
  dns_.default_rbl_reply = cfg.Raw("default_rbl_reply").value_or("");
  auto refs = cfg.GetTables("rbl_reply_maps");
  if (!refs) return Err(refs.error());
  if (refs->empty()) return {};
  auto t = table::TableList::Open(*refs);
  if (t) dns_.rbl_reply_maps = std::make_shared<table::TableList>(std::move(*t));
  else dns_.rbl_reply_error = t.error();
  return {};
}

const DnsFact* Policy::Fact(Check& c, DnsQuery::Kind kind, const std::string& name) {
  DnsQuery q{kind, name};
  std::string key = q.Key();
  for (auto& [k, fact] : c.answers)
    if (k == key) return &fact;
  if (const DnsFact* f = dns_cache_.Find(key, DnsCache::Clock::now())) return f;
  c.dns = std::move(q);
  return nullptr;
}

void Policy::AddDnsAnswer(Check& c, DnsFact fact, uint32_t ttl) {
  if (!c.dns) return;
  std::string key = c.dns->Key();
  dns_cache_.Put(key, fact, ttl, DnsCache::Clock::now());
  c.answers.emplace_back(std::move(key), std::move(fact));
  c.dns.reset();
}

// The steps of this file; false for any other step.
bool Policy::RunIdentityStep(const Step& s, const Facts& f, Check& c, Verdict* v) {
  const std::string& n = s.name;
  if (s.rbl) *v = DnsList(s, f, c);
  else if (n == "reject_maps_rbl") *v = MapsRbl(f, c);
  else if (n == "reject_unknown_client_hostname" || n == "reject_unknown_client" ||
           n == "reject_unknown_forward_client_hostname" ||
           n == "reject_unknown_reverse_client_hostname" || n == "reject_unknown_helo_hostname" ||
           n == "reject_unknown_hostname")
    *v = UnknownName(s, f, c);
  else if (n == "reject_unknown_sender_domain" || n == "reject_unknown_recipient_domain")
    *v = UnknownDomain(n == "reject_unknown_sender_domain", f, c);
  else
    return false;
  return true;
}

// Postfix's texts: the client's names were found at connect (Facts); the
// HELO name must have an A, AAAA or MX record.
Verdict Policy::UnknownName(const Step& s, const Facts& f, Check& c) {
  const std::string& n = s.name;
  if (n == "reject_unknown_helo_hostname" || n == "reject_unknown_hostname") {
    if (f.helo.empty() || f.helo.front() == '[') return {};
    const DnsFact* fact = Fact(c, Kind::kMailDomain, Domain(f.helo));
    if (!fact || fact->result == DnsFact::Result::kFound) return {};
    if (fact->result == DnsFact::Result::kTempFail) {
      if (!c.defer_if_permit) c.defer_if_permit = Reject(Stage::kHelo, f, 450, "4.7.1", "Host not found");
      return {};
    }
    int code = dns_.unknown_hostname_code;
    return Reject(Stage::kHelo, f, code, Dsn(code, "7.1"), "Host not found");
  }
  bool reverse = n == "reject_unknown_reverse_client_hostname";
  NameStatus st = reverse ? f.reverse_name_status : f.client_name_status;
  if (st == NameStatus::kOk) return {};
  // The forward half alone: a PTR name that does not map back to the client.
  if (n == "reject_unknown_forward_client_hostname" && f.reverse_name_status != NameStatus::kOk) return {};
  int code = st == NameStatus::kPermFail ? dns_.unknown_client_code : 450;
  return Refuse(code, Dsn(code, "7.25"),
                fmt::format("Client host rejected: cannot find your {}hostname, [{}]", reverse ? "reverse " : "",
                            f.client_addr));
}

// reject_unknown_sender_domain, reject_unknown_recipient_domain: a domain
// that is not ours must have an MX or an address; a null MX says no mail.
Verdict Policy::UnknownDomain(bool sender, const Facts& f, Check& c) {
  const smtp::Address* a = sender ? f.sender : f.recipient;
  if (!a || a->null || a->domain.empty() || a->domain.front() == '[') return {};
  if (auto d = dest_.Classify(a->domain); d && *d == Destination::kLocal) return {};
  std::string domain = Domain(a->domain);
  const DnsFact* fact = Fact(c, Kind::kMailDomain, domain);
  if (!fact) return {};
  Stage stage = sender ? Stage::kSender : Stage::kRecipient;
  std::string_view detail = sender ? "1.8" : "1.2";
  switch (fact->result) {
    case DnsFact::Result::kFound: return {};
    case DnsFact::Result::kNullMx:
      return Reject(stage, f, 550, sender ? "5.7.27" : "5.1.10", "Domain " + domain + " does not accept mail (nullMX)");
    case DnsFact::Result::kTempFail:
      // unknown_address_tempfail_action's default: defer_if_permit.
      if (!c.defer_if_permit) c.defer_if_permit = Reject(stage, f, 450, Dsn(450, detail), "Domain not found");
      return {};
    case DnsFact::Result::kNotFound: break;
  }
  int code = dns_.unknown_address_code;
  return Reject(stage, f, code, Dsn(code, detail), "Domain not found");
}

Verdict Policy::DnsList(const Step& s, const Facts& f, Check& c) {
  const std::string& n = s.name;
  const std::string& domain = s.rbl->domain();
  std::optional<std::string> q;
  std::string what;
  auto domain_of = [](const smtp::Address* a) { return a && !a->null ? a->domain : std::string(); };
  bool by_address = n == "reject_rbl_client" || n == "reject_rbl" || n == "permit_dnswl_client";
  if (by_address) what = std::string(f.client_addr);
  else if (n == "reject_rhsbl_client" || n == "permit_rhswl_client") what = std::string(f.client_name);
  else if (n == "reject_rhsbl_reverse_client") what = std::string(f.reverse_client_name);
  else if (n == "reject_rhsbl_helo") what = std::string(f.helo);
  else if (n == "reject_rhsbl_sender") what = domain_of(f.sender);
  else what = domain_of(f.recipient);
  q = by_address ? RblAddressQuery(what, domain) : RhsblQuery(what, domain);
  if (!q) return {};
  const DnsFact* a = Fact(c, Kind::kAddress, *q);
  if (!a) return {};
  bool permit = n.rfind("permit_", 0) == 0;
  if (a->result == DnsFact::Result::kTempFail) {
    log::Warning("{}: {}: {}", n, *q, a->reason);
    // As Postfix: a list that cannot be asked neither rejects nor permits.
    if (permit && !c.defer_if_reject)
      c.defer_if_reject = Reject(Stage::kClient, f, 450, "4.7.1", "Service unavailable");
    return {};
  }
  if (a->result != DnsFact::Result::kFound || !s.rbl->Listed(a->values)) return {};
  if (permit) return Verdict::Permit();
  const DnsFact* txt = Fact(c, Kind::kTxt, *q);
  if (!txt) return {};
  return RblReject(s, f, what, txt->result == DnsFact::Result::kFound ? txt->values : std::vector<std::string>());
}

// Postfix's old reject_maps_rbl: reject_rbl_client with each of
// maps_rbl_domains, the first listing deciding.
Verdict Policy::MapsRbl(const Facts& f, Check& c) {
  for (const Step& site : maps_rbl_) {
    Verdict v = DnsList(site, f, c);
    if (c.dns || v.kind != Verdict::Kind::kDunno) return v;
  }
  return {};
}

// default_rbl_reply, or the template rbl_reply_maps has for the list's domain.
Verdict Policy::RblReject(const Step& s, const Facts& f, std::string_view what, const std::vector<std::string>& txt) {
  std::string tmpl = dns_.default_rbl_reply;
  auto config_error = [] { return Verdict{Verdict::Kind::kReject, 451, "4.3.5", "Server configuration error", true}; };
  if (!dns_.rbl_reply_error.empty()) {
    log::Warning("rbl_reply_maps: {}", dns_.rbl_reply_error);
    return config_error();
  }
  if (dns_.rbl_reply_maps) {
    auto r = dns_.rbl_reply_maps->Lookup(s.rbl->domain());
    if (!r) {
      log::Warning("rbl_reply_maps: {}", r.error());
      return Verdict{Verdict::Kind::kReject, 451, "4.3.0", "Temporary lookup failure", true};
    }
    if (r->has_value()) tmpl = **r;
  }
  std::string reason = txt.empty() ? "" : Sanitize(txt.front());
  auto addr_part = [](const smtp::Address* a, bool domain) {
    if (!a || a->null) return std::string();
    return domain ? a->domain : a->local;
  };
  std::pair<std::string_view, std::string> macros[] = {
      {"rbl_code", std::to_string(dns_.rbl_code)},
      {"rbl_domain", s.rbl->domain()},
      {"rbl_reason", reason},
      {"rbl_txt", reason},
      {"rbl_what", std::string(what)},
      {"rbl_class", std::string(ListClass(s.name))},
      {"client_address", std::string(f.client_addr)},
      {"client_name", std::string(f.client_name)},
      {"reverse_client_name", std::string(f.reverse_client_name)},
      {"helo_name", std::string(f.helo)},
      {"sender", f.sender ? f.sender->Canonical() : ""},
      {"sender_name", addr_part(f.sender, false)},
      {"sender_domain", addr_part(f.sender, true)},
      {"recipient", f.recipient ? f.recipient->Canonical() : ""},
      {"recipient_name", addr_part(f.recipient, false)},
      {"recipient_domain", addr_part(f.recipient, true)},
  };
  auto reply = ParseReplyText(ExpandTemplate(tmpl, [&](std::string_view name) -> std::optional<std::string> {
    for (const auto& [k, v] : macros)
      if (k == name) return v;
    return std::nullopt;
  }));
  if (!reply) {
    log::Warning("{} {}: the reply template \"{}\" does not start with a 4NN or 5NN code", s.name, s.rbl->spec(), tmpl);
    return config_error();
  }
  return Refuse(reply->code, std::move(reply->enhanced), std::move(reply->text));
}

}  // namespace postern::smtpd
