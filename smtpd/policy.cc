// smtpd/policy.cc — restriction lists, relay control and the local recipient
// check, with Postfix's reply codes and texts; see policy.h.
#include "smtpd/policy.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <tuple>
#include <utility>

#include "postern/config/compat.h"
#include "postern/log/log.h"
#include "postern/route/route.h"
#include "postern/smtp/reply.h"
#include "postern/util/strings.h"

namespace postern::smtpd {

namespace {

constexpr int kMaxDepth = 10;  // access-table results naming restrictions
constexpr size_t kMaxActionArg = 1000;  // a REDIRECT/BCC address or a FILTER route

// Supported restrictions: those without an argument, and check_*_access.
bool IsSimple(std::string_view n) {
  auto r = config::LookupRestriction(n);
  return r.support == config::RestrictionSupport::kSupported && !r.takes_argument;
}
bool IsAccess(std::string_view n) {
  auto r = config::LookupRestriction(n);
  return r.support == config::RestrictionSupport::kSupported && r.takes_argument;
}

constexpr std::string_view kConfigError = "Server configuration error";

std::string NormalDomain(std::string_view d) {
  std::string s = ToLower(d);
  while (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// Postfix's reply classes: "Client host", "Helo command", ...
std::string ClassName(Policy::Stage s) {
  switch (s) {
    case Policy::Stage::kClient: return "Client host";
    case Policy::Stage::kHelo: return "Helo command";
    case Policy::Stage::kSender: return "Sender address";
    case Policy::Stage::kRecipient: return "Recipient address";
    case Policy::Stage::kData: return "Data command";
    case Policy::Stage::kEod: return "End-of-data";
  }
  return "";
}

std::string StageLabel(Policy::Stage s) { return ClassName(s) + " rejected"; }

bool IsFqdn(const smtp::Address& a) {
  if (a.null) return true;
  if (a.domain.empty()) return false;
  if (a.domain.front() == '[') return true;
  return a.domain.find('.') != std::string::npos;
}

Verdict Make(int code, std::string_view enh, std::string text, bool temporary = false) {
  return Verdict{Verdict::Kind::kReject, code, std::string(enh), std::move(text), temporary};
}

// smtpd_policy_service_*: what a check_policy_service without overrides gets.
Result<policy::ServiceSpec> PolicyDefaults(const config::Config& cfg) {
  policy::ServiceSpec s;
  std::pair<std::string_view, std::chrono::milliseconds*> times[] = {
      {"smtpd_policy_service_timeout", &s.timeout}, {"smtpd_policy_service_max_idle", &s.max_idle},
      {"smtpd_policy_service_max_ttl", &s.max_ttl}, {"smtpd_policy_service_retry_delay", &s.retry_delay}};
  for (auto [name, out] : times) {
    auto t = cfg.GetTime(name);
    if (!t) return Err(t.error());
    *out = *t;
  }
  auto limit = cfg.GetInt("smtpd_policy_service_request_limit");
  if (!limit) return Err(limit.error());
  s.request_limit = *limit;
  auto tries = cfg.GetInt("smtpd_policy_service_try_limit");
  if (!tries) return Err(tries.error());
  s.try_limit = std::max(1LL, *tries);
  auto action = cfg.Get("smtpd_policy_service_default_action");
  if (!action) return Err(action.error());
  s.default_action = *action;
  auto context = cfg.Get("smtpd_policy_service_policy_context");
  if (!context) return Err(context.error());
  s.policy_context = *context;
  return s;
}

// "PREPEND name: value": a header line as RFC 5322 wants its field name.
bool IsHeaderLine(std::string_view h) {
  size_t colon = h.find(':');
  if (colon == 0 || colon == std::string_view::npos) return false;
  for (char ch : h.substr(0, colon))
    if (ch <= ' ' || ch > '~') return false;
  return true;
}

}  // namespace

std::string RejectSubject(Policy::Stage stage, const Facts& f) {
  switch (stage) {
    case Policy::Stage::kClient:
      return "<" + std::string(f.client_name) + "[" + std::string(f.client_addr) + "]>";
    case Policy::Stage::kHelo: return "<" + std::string(f.helo) + ">";
    case Policy::Stage::kSender: return "<" + (f.sender ? f.sender->Canonical() : std::string()) + ">";
    case Policy::Stage::kRecipient: return "<" + (f.recipient ? f.recipient->Canonical() : std::string()) + ">";
    case Policy::Stage::kData: return "<DATA>";
    case Policy::Stage::kEod: return "<END-OF-MESSAGE>";
  }
  return "<>";
}

// --- Policy: loading -----------------------------------------------------

// Tolerant, as Postfix: an entry that cannot run (unknown or unsupported
// restriction, table that does not open) becomes a step answering 451 4.3.5
// where it is reached; the rest of the list, and every other list, still works.
Result<Policy::List> Policy::ParseList(const config::Config& cfg, std::string_view param, Stage stage) {
  auto words = cfg.GetList(param);
  if (!words) return Err(words.error());
  List l{stage, {}};
  auto broken = [&](std::string why) {
    log::Warning("{}: {}; answering 451 4.3.5 where it applies", param, why);
    l.steps.push_back({"", nullptr, std::move(why), nullptr, {}, nullptr});
  };
  for (size_t i = 0; i < words->size(); ++i) {
    const std::string& word = (*words)[i];
    std::string name = ToLower(word);
    auto info = config::LookupRestriction(name);
    bool has_arg = info.takes_argument && i + 1 < words->size();
    if (class_names_.count(name)) {
      l.steps.push_back({name, nullptr, {}, nullptr, {}});
    } else if (IsSimple(name)) {
      if (SenderLogin::IsRestriction(name) && !sender_login_.configured()) {
        broken(name + " needs smtpd_sender_login_maps");
      } else if (name == "reject_maps_rbl" && maps_rbl_.empty()) {
        broken(name + " needs maps_rbl_domains");
      } else {
        if (name == "reject_maps_rbl")
          log::Warning("support for restriction \"reject_maps_rbl\" will be removed from Postfix; "
                       "use \"reject_rbl_client domain-name\" instead");
        l.steps.push_back({name, nullptr, {}, nullptr, {}, nullptr});
        uses_cache_ |= name == "check_greylist" || name == "check_message_limits";
      }
    } else if (name == "check_policy_service") {
      if (!has_arg) {
        broken(name + " needs a server");
        continue;
      }
      auto spec = policy::ParseServiceSpec((*words)[++i], policy_defaults_, queue_dir_);
      if (!spec) broken(spec.error());
      else l.steps.push_back({name, nullptr, {}, std::make_shared<policy::ServiceSpec>(std::move(*spec)), (*words)[i], nullptr});
    } else if (config::IsDnsListRestriction(name)) {
      if (!has_arg) {
        broken(name + " needs a DNS list domain");
        continue;
      }
      auto site = RblSite::Parse((*words)[++i]);
      if (!site) broken(name + ": " + site.error());
      else l.steps.push_back({name, nullptr, {}, nullptr, {}, std::make_shared<RblSite>(std::move(*site))});
    } else if (IsAccess(name)) {
      if (!has_arg) {
        broken(name + " needs a table");
        continue;
      }
      auto t = table::TableList::Open((*words)[++i]);
      if (!t) broken(t.error());
      else l.steps.push_back({name, std::make_shared<table::TableList>(std::move(*t)), {}, nullptr, {}, nullptr});
    } else if (info.support == config::RestrictionSupport::kUnsupported) {
      if (has_arg) ++i;
      broken("restriction \"" + word + "\" is not supported by postern");
    } else {
      broken("unknown restriction \"" + word + "\"");
    }
  }
  return l;
}

Result<std::unique_ptr<Policy>> Policy::Load(const config::Config& cfg) {
  auto p = std::make_unique<Policy>();
  auto nets = cfg.GetList("mynetworks");
  if (!nets) return Err(nets.error());
  auto ml = NetworkList::Parse(*nets);
  if (!ml) return Err("mynetworks: " + ml.error());
  p->mynetworks_ = std::move(*ml);
  if (!cfg.IsSet("mynetworks")) {
    if (auto r = p->mynetworks_.AddInterfaces(cfg.Str("mynetworks_style")); !r) return Err(r.error());
  }
  auto dest = route::Destinations::FromConfig(cfg);
  if (!dest) return Err(dest.error());
  p->dest_ = std::move(*dest);
  p->recipient_delimiter_ = cfg.Str("recipient_delimiter");
  p->allow_untrusted_routing_ = cfg.Bool("allow_untrusted_routing");
  auto slm = SenderLogin::Load(cfg);
  if (!slm) return Err(slm.error());
  p->sender_login_ = std::move(*slm);

  for (auto [param, maps] : {std::pair{"local_recipient_maps", &p->local_maps_},
                             std::pair{"relay_recipient_maps", &p->relay_maps_},
                             std::pair{"virtual_mailbox_maps", &p->virtual_mailbox_maps_}}) {
    auto refs = cfg.GetTables(param);
    if (!refs) return Err(refs.error());
    if (refs->empty()) continue;
    auto lm = table::TableList::Open(*refs);
    if (lm) maps->tables = std::make_unique<table::TableList>(std::move(*lm));
    else maps->error = lm.error();
  }

  if (auto va = rewrite::VirtualAliases::FromConfig(cfg)) {
    p->virtual_ = std::move(*va);
  } else {
    p->virtual_error_ = va.error();
  }

  auto us = LoadUnverified(cfg, "sender");
  if (!us) return Err(us.error());
  p->unverified_sender_ = std::move(*us);
  auto ur = LoadUnverified(cfg, "recipient");
  if (!ur) return Err(ur.error());
  p->unverified_recipient_ = std::move(*ur);
  auto polls = cfg.GetInt("address_verify_poll_count");
  if (!polls) return Err(polls.error());
  auto delay = cfg.GetTime("address_verify_poll_delay");
  if (!delay) return Err(delay.error());
  // Postfix polls poll_count times, poll_delay apart: the first answer is immediate.
  p->verify_wait_ms_ = uint32_t(std::max(0LL, *polls - 1) * std::chrono::milliseconds(*delay).count());
  p->verify_socket_ = cfg.Str("queue_directory") + "/private/" + cfg.Str("address_verify_service_name");

  if (auto d = p->LoadDnsSettings(cfg); !d) return Err(d.error());
  if (auto d = p->LoadCacheSettings(cfg); !d) return Err(d.error());
  for (const std::string& domain : cfg.List("maps_rbl_domains")) {
    auto site = RblSite::Parse(domain);
    if (!site) return Err("maps_rbl_domains: " + site.error());
    p->maps_rbl_.push_back({"reject_rbl_client", nullptr, {}, nullptr, {}, std::make_shared<RblSite>(std::move(*site))});
  }
  auto spec = PolicyDefaults(cfg);
  if (!spec) return Err(spec.error());
  p->policy_defaults_ = std::move(*spec);
  p->queue_dir_ = cfg.Str("queue_directory");

  // smtpd_restriction_classes: names first (a class may name another), then their lists.
  const std::vector<std::string> class_params = cfg.List("smtpd_restriction_classes");
  for (const std::string& name : class_params) p->class_names_.insert(ToLower(name));
  for (const std::string& name : class_params) {
    auto l = p->ParseList(cfg, name, Stage::kRecipient);
    if (!l) return Err(l.error());
    for (const Step& st : l->steps)
      if (st.service) return Err("restriction class " + name + ": check_policy_service cannot be used in a class");
    p->classes_[ToLower(name)] = std::move(l->steps);
  }
  const std::pair<std::string_view, Stage> lists[] = {
      {"smtpd_client_restrictions", Stage::kClient}, {"smtpd_helo_restrictions", Stage::kHelo},
      {"smtpd_sender_restrictions", Stage::kSender}, {"smtpd_relay_restrictions", Stage::kRecipient},
      {"smtpd_recipient_restrictions", Stage::kRecipient}};
  for (auto [param, stage] : lists) {
    auto l = p->ParseList(cfg, param, stage);
    if (!l) return Err(l.error());
    p->lists_.push_back(std::move(*l));
  }
  for (auto [param, stage, out] : {std::tuple{"smtpd_data_restrictions", Stage::kData, &p->data_lists_},
                                   std::tuple{"smtpd_end_of_data_restrictions", Stage::kEod, &p->eod_lists_}}) {
    auto l = p->ParseList(cfg, param, stage);
    if (!l) return Err(l.error());
    out->push_back(std::move(*l));
  }
  return p;
}

// --- destinations --------------------------------------------------------

Result<Destination> Policy::Classify(const smtp::Address& a) { return dest_.Classify(a.domain); }

Result<bool> Policy::AuthorizedDestination(const smtp::Address& a) {
  // user%host@us, host!user@us, "user@host"@us: we would forward it on.
  if (!allow_untrusted_routing_ && smtp::HasRoutingChars(a.local)) return false;
  auto d = Classify(a);
  if (!d) return Err(d.error());
  return *d != Destination::kRemote;
}

// --- evaluation ----------------------------------------------------------

Verdict Policy::Reject(Stage target, const Facts& f, int code, std::string_view enh,
                       std::string_view text) const {
  return Make(code, enh, RejectSubject(target, f) + ": " + StageLabel(target) + ": " + std::string(text));
}

Verdict Policy::AccessResult(std::string_view value, Stage target, const Facts& f, int depth, Check& c) {
  value = Trim(value);
  size_t sp = value.find_first_of(" \t");
  std::string word = ToLower(value.substr(0, sp));
  std::string_view rest = sp == std::string_view::npos ? std::string_view() : Trim(value.substr(sp));
  auto with_text = [&](int code, std::string_view def_enh, std::string_view def_text) {
    std::string_view enh = def_enh;
    size_t e = rest.find_first_of(" \t");
    if (smtp::IsEnhancedStatus(rest.substr(0, e)) && rest[0] == def_enh[0]) {
      enh = rest.substr(0, e);
      rest = e == std::string_view::npos ? std::string_view() : Trim(rest.substr(e));
    }
    return Reject(target, f, code, enh, rest.empty() ? def_text : rest);
  };
  if (word == "ok" || word == "permit") return Verdict::Permit();
  if (word == "dunno") return {};
  if (word == "reject") return with_text(554, "5.7.1", "Access denied");
  if (word == "defer") return with_text(450, "4.7.1", "Access denied");
  if (word == "defer_if_permit" || word == "defer_if_reject") {
    auto& slot = word == "defer_if_permit" ? c.defer_if_permit : c.defer_if_reject;
    if (!slot) slot = with_text(450, "4.7.1", "Service unavailable");
    return {};
  }
  if (word == "prepend" && IsHeaderLine(rest)) {
    c.effects.prepend.emplace_back(rest);
    return {};
  }
  if (word == "warn") {
    c.effects.notes.emplace_back("warn", std::string(rest));
    return {};
  }
  if (auto v = EnvelopeAction(word, rest, target, f, c)) return *v;
  if (word == "hold" || word == "discard") {
    // As Postfix: DISCARD also ends the restrictions (OK); HOLD goes on.
    std::string text = rest.empty() ? ClassName(target) + (word == "hold" ? " triggers HOLD action" : " triggers DISCARD action")
                                    : std::string(rest);
    c.effects.notes.emplace_back(word, RejectSubject(target, f) + ": " + text);
    (word == "hold" ? c.effects.hold : c.effects.discard) = true;
    return word == "hold" ? Verdict{} : Verdict::Permit();
  }
  unsigned long long code = 0;
  if (word.size() == 3 && ParseUnsigned(word, &code) && code >= 200 && code < 600) {
    if (code < 400) return Verdict::Permit();
    return with_text(int(code), code < 500 ? "4.7.1" : "5.7.1", "Access denied");
  }
  if ((IsSimple(word) || class_names_.count(word)) && rest.empty() && depth < kMaxDepth)
    return RunStep({word, nullptr, {}, nullptr, {}, nullptr}, target, f, depth + 1, c);
  log::Warning("access table result \"{}\" is not supported; answering 451", value);
  return Make(451, "4.3.5", std::string(kConfigError), true);
}

// REDIRECT, BCC and FILTER: they change where the message goes and let the
// restrictions go on (DUNNO), as Postfix's; nullopt for any other word.
std::optional<Verdict> Policy::EnvelopeAction(std::string_view word, std::string_view arg, Stage target,
                                              const Facts& f, Check& c) const {
  if (word != "redirect" && word != "bcc" && word != "filter") return std::nullopt;
  bool ok = !arg.empty() && arg.size() <= kMaxActionArg && arg.find_first_of(" \t") == std::string_view::npos;
  if (word == "filter") ok = ok && arg.find(':') != std::string_view::npos && arg.front() != ':';
  else ok = ok && smtp::ParseMailbox(arg, {.smtputf8 = true, .allow_null = false}).ok();
  if (!ok) {
    log::Warning("access table action \"{} {}\": it needs {}; answering 451", word, arg,
                 word == "filter" ? "transport:destination" : "one address");
    return Make(451, "4.3.5", std::string(kConfigError), true);
  }
  std::string upper(word);
  for (char& ch : upper) ch = char(std::toupper(static_cast<unsigned char>(ch)));
  c.effects.notes.emplace_back(std::string(word), RejectSubject(target, f) + ": " + ClassName(target) + " triggers " + upper +
                                         " " + std::string(arg));
  if (word == "redirect") c.effects.redirect = arg;
  else if (word == "filter") c.effects.filter = arg;
  else if (c.effects.bcc.empty()) c.effects.bcc = arg;
  return Verdict{};
}

Verdict Policy::RunStep(const Step& s, Stage stage, const Facts& f, int depth, Check& c) {
  const std::string& n = s.name;
  if (!s.error.empty()) return Make(451, "4.3.5", std::string(kConfigError), true);
  auto temp = [&](Stage target) { return Make(451, "4.3.0", RejectSubject(target, f) + ": Temporary lookup failure", true); };
  if (n == "permit") return Verdict::Permit();
  if (n == "dunno") return {};
  if (n == "reject") return Reject(stage, f, 554, "5.7.1", "Access denied");
  if (n == "defer") return Reject(stage, f, 450, "4.7.1", "Access denied");
  if (n == "permit_mynetworks") {
    auto in = mynetworks_.Contains(f.client_addr);
    if (!in && mynetworks_.undecided()) return Make(451, "4.3.5", std::string(kConfigError), true);
    if (!in) return temp(Stage::kClient);
    return *in ? Verdict::Permit() : Verdict{};
  }
  if (n == "permit_sasl_authenticated") return f.sasl_authenticated ? Verdict::Permit() : Verdict{};
  if (auto cl = classes_.find(n); cl != classes_.end()) return RunClass(cl->second, stage, f, depth, c);
  if (n == "reject_unverified_sender" || n == "reject_unverified_recipient") {
    // The evaluation stops here until verify(8) answers (ResumeVerify).
    bool sender = n == "reject_unverified_sender";
    const smtp::Address* a = sender ? f.sender : f.recipient;
    if (!a || a->null) return {};  // the null sender is not verified
    c.verify = VerifyWait{sender ? ipc::VerifyKind::kSender : ipc::VerifyKind::kRecipient, a->Canonical(),
                          sender ? Stage::kSender : Stage::kRecipient};
    return {};
  }
  if (SenderLogin::IsRestriction(n)) return CheckSenderLogin(sender_login_, n, f);
  if (n == "reject_unauth_pipelining") {
    if (!f.ill_pipelining) return {};
    return Make(503, "5.5.0", RejectSubject(stage, f) + ": " + StageLabel(stage) + ": Improper use of SMTP command pipelining");
  }
  if (n == "reject_multi_recipient_bounce") {
    // At RCPT a bounce already has its one recipient; at DATA it has more than one.
    bool data = stage == Stage::kData || stage == Stage::kEod;
    if (!f.sender || !f.sender->null || f.recipient_count <= (data ? 1u : 0u)) return {};
    return Reject(stage, f, 550, "5.5.3", "Multi-recipient bounce");
  }
  if (Verdict v; RunIdentityStep(s, f, c, &v)) return v;
  if (n == "check_greylist" || n == "check_message_limits") return CacheStep(s, stage, f, c);
  if (n == "reject_unlisted_sender" || n == "reject_unlisted_recipient") {
    bool sender = n == "reject_unlisted_sender";
    const smtp::Address* a = sender ? f.sender : f.recipient;
    if (!a || a->null) return {};
    Verdict v = CheckListed(*a, sender);
    return v.rejected() ? v : Verdict{};
  }
  if (n == "reject_unauthenticated_local_sender") {
    auto foreign = ForeignLocalSender(f);
    if (!foreign) return temp(Stage::kSender);
    if (!*foreign) return {};
    return Reject(Stage::kSender, f, 553, "5.7.1", "not logged in");
  }
  if (n == "permit_auth_destination" || n == "reject_unauth_destination" || n == "defer_unauth_destination") {
    if (!f.recipient) return {};
    auto ok = AuthorizedDestination(*f.recipient);
    if (!ok) {
      log::Warning("{}: {}", n, ok.error());
      return temp(Stage::kRecipient);
    }
    if (n == "permit_auth_destination") return *ok ? Verdict::Permit() : Verdict{};
    if (*ok) return {};
    bool defer = n == "defer_unauth_destination";
    return Make(defer ? 454 : 554, defer ? "4.7.1" : "5.7.1",
                RejectSubject(Stage::kRecipient, f) + ": Relay access denied");
  }
  if (n == "reject_non_fqdn_sender" || n == "reject_non_fqdn_recipient") {
    bool sender = n == "reject_non_fqdn_sender";
    const smtp::Address* a = sender ? f.sender : f.recipient;
    if (!a || IsFqdn(*a)) return {};
    return Reject(sender ? Stage::kSender : Stage::kRecipient, f, 504, "5.5.2", "need fully-qualified address");
  }
  if (n == "reject_non_fqdn_helo_hostname") {
    if (f.helo.empty() || f.helo.front() == '[' || f.helo.find('.') != std::string_view::npos) return {};
    return Reject(Stage::kHelo, f, 504, "5.5.2", "need fully-qualified hostname");
  }
  if (n == "reject_invalid_helo_hostname") {
    if (f.helo.empty()) return {};
    bool ok = f.helo.front() == '[' ? smtp::IsValidAddressLiteral(f.helo) : smtp::IsValidDomain(f.helo, true);
    return ok ? Verdict{} : Reject(Stage::kHelo, f, 501, "5.5.2", "Invalid name");
  }
  if (IsServerAccess(n)) return ServerAccess(s, f, depth, c);
  // check_*_access
  table::LookupResult r = std::optional<std::string>();
  Stage target = stage;
  if (n == "check_client_access" || n == "check_reverse_client_hostname_access") {
    target = Stage::kClient;
    bool reverse = n == "check_reverse_client_hostname_access";
    r = table::LookupClient(*s.table, reverse ? f.reverse_client_name : f.client_name, f.client_addr);
  } else if (n == "check_helo_access") {
    target = Stage::kHelo;
    if (f.helo.empty()) return {};
    r = table::LookupDomain(*s.table, NormalDomain(f.helo));
  } else if (n == "check_sender_access" || n == "check_recipient_access") {
    bool sender = n == "check_sender_access";
    target = sender ? Stage::kSender : Stage::kRecipient;
    const smtp::Address* a = sender ? f.sender : f.recipient;
    if (!a) return {};
    // smtpd_null_access_lookup_key: the null sender is looked up as "<>".
    r = a->null ? s.table->Lookup("<>") : table::LookupAddress(*s.table, a->Canonical(), {recipient_delimiter_, true});
  }
  if (!r) {
    log::Warning("{}: {}", n, r.error());
    return temp(target);
  }
  if (!r->has_value()) return {};
  return AccessResult(**r, target, f, depth, c);
}

// Runs from where c stands: a reject ends everything, a permit ends its own
// list, a check_policy_service step stops the run until Resume.
Verdict Policy::CheckRecipient(Check& c, const Facts& f) {
  // As trivial-rewrite's resolve: user@192.0.2.1 is bad syntax unless
  // resolve_numeric_domain makes it user@[192.0.2.1].
  if (!c.started && c.at == Stage::kRecipient && f.recipient && dest_.RefusedNumeric(f.recipient->domain))
    return Make(501, "5.1.3", "Bad recipient address syntax");
  c.started = true;
  return RunSteps(c, f);
}

Verdict Policy::RunSteps(Check& c, const Facts& f) {
  const std::vector<List>& lists = ListsOf(c.at);
  for (; c.list < lists.size(); ++c.list, c.step = 0) {
    const List& l = lists[c.list];
    Verdict v;
    for (; c.step < l.steps.size(); ++c.step) {
      const Step& s = l.steps[c.step];
      if (s.service && s.error.empty()) {
        c.pending = &s;
        return {};
      }
      if (s.name == "warn_if_reject") {
        c.warn_next = true;
        continue;
      }
      v = RunStep(s, l.stage, f, 0, c);
      if (v.rejected() && v.check.empty()) v.check = s.name;
      if (c.verify) return {};  // ResumeVerify carries on after this step
      if (c.dns) return {};  // waiting for a lookup: this step runs again with its answer
      if (c.cache) return {};  // the same, for the policy cache
      // warn_if_reject: Postfix logs the reject as reject_warning and goes on.
      if (std::exchange(c.warn_next, false) && v.rejected()) {
        c.effects.notes.emplace_back("reject_warning", fmt::format("{} {} {}", v.code, v.enhanced, v.text));
        v = {};
      }
      if (v.kind != Verdict::Kind::kDunno) break;
    }
    if (v.rejected()) return Finalize(c, std::move(v));
  }
  return Finalize(c, Verdict::Permit());
}

Verdict Policy::Resume(Check& c, std::string_view action, const Facts& f) {
  c.pending = nullptr;
  Verdict v = AccessResult(action, ListsOf(c.at)[c.list].stage, f, 0, c);
  if (v.rejected()) v.check = "check_policy_service";
  if (c.verify) return {};  // the action named reject_unverified_*: verify(8) first
  if (v.rejected()) return Finalize(c, std::move(v));
  if (v.kind == Verdict::Kind::kPermit) {
    ++c.list;
    c.step = 0;
  } else {
    ++c.step;
  }
  return CheckRecipient(c, f);
}

// A restriction class (smtpd_restriction_classes): its list, as if it stood
// in place of its name; a permit or reject is the class's result. When a step
// waits for verify(8), the rest of the class waits in c.class_rest.
Verdict Policy::RunClass(const std::vector<Step>& steps, Stage stage, const Facts& f, int depth, Check& c) {
  if (depth >= kMaxDepth) {
    log::Warning("restriction classes nest deeper than {}; answering 451", kMaxDepth);
    return Make(451, "4.3.5", std::string(kConfigError), true);
  }
  for (size_t i = 0; i < steps.size(); ++i) {
    Verdict v = RunStep(steps[i], stage, f, depth + 1, c);
    if (c.verify) {
      for (size_t j = i + 1; j < steps.size(); ++j) c.class_rest.push_back(&steps[j]);
      return {};
    }
    if (c.cache) return {};  // the class runs again, with the cache's answer
    if (v.kind != Verdict::Kind::kDunno) return v;
  }
  return {};
}

Verdict Policy::ResumeVerify(Check& c, const Result<ipc::VerifyAnswer>& answer, const Facts& f) {
  VerifyWait w = std::move(*c.verify);
  c.verify.reset();
  Verdict v;
  if (!answer) {
    log::Warning("address verification service {}: {}", verify_socket_, answer.error());
    v = Make(451, "4.3.0", RejectSubject(w.target, f) + ": Temporary lookup failure", true);
  } else {
    v = VerifyVerdict(c, w, *answer, f);
  }
  // The rest of a restriction class that stopped for verify(8).
  std::vector<const Step*> rest = std::move(c.class_rest);
  c.class_rest.clear();
  for (size_t i = 0; i < rest.size() && v.kind == Verdict::Kind::kDunno; ++i) {
    v = RunStep(*rest[i], ListsOf(c.at)[c.list].stage, f, 1, c);
    if (c.verify) {
      c.class_rest.insert(c.class_rest.end(), rest.begin() + long(i) + 1, rest.end());
      return {};
    }
  }
  if (v.rejected()) return Finalize(c, std::move(v));
  if (v.kind == Verdict::Kind::kPermit) {  // a permit ends its own list
    ++c.list;
    c.step = 0;
  } else {
    ++c.step;
  }
  return CheckRecipient(c, f);
}

// Postfix's check_verify: undeliverable → unverified_*_reject_code, a probe
// in progress → unverified_*_defer_code, a temporary failure →
// unverified_*_tempfail_action; a deliverable address goes on (DUNNO).
Verdict Policy::VerifyVerdict(Check& c, const VerifyWait& w, const ipc::VerifyAnswer& a, const Facts& f) {
  bool sender = w.kind == ipc::VerifyKind::kSender;
  const Unverified& u = sender ? unverified_sender_ : unverified_recipient_;
  std::string detail = sender ? ".1.7" : ".1.1";
  switch (a.status) {
    case ipc::VerifyStatus::kDeliverable: return {};
    case ipc::VerifyStatus::kUndeliverable: {
      std::string text = u.reject_reason.empty() ? "undeliverable address: " + a.reason : u.reject_reason;
      return Reject(w.target, f, u.reject_code, std::to_string(u.reject_code / 100) + detail, text);
    }
    case ipc::VerifyStatus::kInProgress:
      return Reject(w.target, f, u.defer_code, std::to_string(u.defer_code / 100) + detail,
                    "unverified address: " + a.reason);
    case ipc::VerifyStatus::kUnknown: break;
  }
  return AccessResult(u.tempfail_action + " 4" + detail + " unverified address: " + a.reason, w.target, f, 0, c);
}

Result<Policy::Unverified> Policy::LoadUnverified(const config::Config& cfg, std::string_view who) {
  Unverified u;
  std::string prefix = "unverified_" + std::string(who) + "_";
  for (auto [name, out] : {std::pair{"reject_code", &u.reject_code}, std::pair{"defer_code", &u.defer_code}}) {
    auto code = cfg.GetInt(prefix + name);
    if (!code) return Err(code.error());
    if (*code < 400 || *code > 599) return Err(prefix + name + ": " + std::to_string(*code) + " is not a 4XX or 5XX code");
    *out = int(*code);
  }
  auto reason = cfg.Get(prefix + "reject_reason");
  if (!reason) return Err(reason.error());
  u.reject_reason = *reason;
  auto action = cfg.Get(prefix + "tempfail_action");
  if (!action) return Err(action.error());
  std::string act = ToLower(*action);
  if (act != "defer_if_permit" && act != "defer" && act != "reject" && act != "dunno" && act != "defer_if_reject")
    return Err(prefix + "tempfail_action: \"" + *action + "\" is not one of defer_if_permit, defer, reject, dunno");
  u.tempfail_action = act;
  return u;
}

// DEFER_IF_PERMIT and DEFER_IF_REJECT, as Postfix: a later permit (or the
// end of the lists) or a later permanent reject turns into their 450.
Verdict Policy::Finalize(Check& c, Verdict v) const {
  if (v.kind == Verdict::Kind::kPermit && c.defer_if_permit) return *c.defer_if_permit;
  if (v.rejected() && v.code >= 500 && c.defer_if_reject) return *c.defer_if_reject;
  return v;
}

// Postfix's smtpd_reject_unlisted_recipient (and _sender, for reject_unlisted_sender): an address in mydestination,
// relay_domains or virtual_mailbox_domains must be in local_recipient_maps,
// relay_recipient_maps or virtual_mailbox_maps (searched as Postfix's
// mail_addr_find: user+ext@domain, user@domain, local only: user+ext, user;
// then @domain), or be a virtual alias; an empty parameter accepts everyone.
// In a virtual alias domain only aliases are known.
Verdict Policy::CheckListed(const smtp::Address& rcpt, bool sender) {
  std::string subject = "<" + rcpt.Canonical() + ">";
  auto temp = [&](std::string_view param, const std::string& why) {
    log::Warning("{}{}{}", param, param.empty() ? "" : ": ", why);
    return Make(451, "4.3.0", subject + ": Temporary lookup failure", true);
  };
  auto d = Classify(rcpt);
  if (!d) return temp("", d.error());
  if (*d == Destination::kRemote || smtp::HasRoutingChars(rcpt.local)) return Verdict::Permit();
  bool local = *d == Destination::kLocal;
  const RecipientMaps* maps = nullptr;
  const char *param = "", *table = "virtual alias";
  if (local) maps = &local_maps_, param = "local_recipient_maps", table = "local recipient";
  if (*d == Destination::kRelay) maps = &relay_maps_, param = "relay_recipient_maps", table = "relay recipient";
  if (*d == Destination::kVirtualMailbox)
    maps = &virtual_mailbox_maps_, param = "virtual_mailbox_maps", table = "virtual mailbox";
  if (maps) {
    if (!maps->error.empty()) return temp(param, maps->error);
    if (!maps->tables) return Verdict::Permit();
    auto hit = LookupRecipient(*maps->tables, rcpt, local);
    if (!hit) return temp(param, hit.error());
    if (*hit) return Verdict::Permit();
  }
  // As Postfix: a virtual alias makes an address known.
  if (!virtual_error_.empty() && !maps) return temp("virtual_alias_maps", virtual_error_);
  if (!virtual_.empty()) {
    auto e = virtual_.Expand(rcpt.Canonical());
    if (!e) return temp("virtual_alias_maps", e.error());
    if (e->size() != 1 || !EqualsIgnoreCase(e->front(), rcpt.Canonical())) return Verdict::Permit();
  }
  return Make(550, sender ? "5.1.0" : "5.1.1",
              subject + (sender ? ": Sender address rejected" : ": Recipient address rejected") + ": User unknown in " +
                  table + " table");
}

// The keys of one recipient in a recipient table, most specific first.
Result<bool> Policy::LookupRecipient(table::TableList& maps, const smtp::Address& rcpt, bool local) {
  std::string user = ToLower(rcpt.local), domain = NormalDomain(rcpt.domain);
  std::string bare = user;
  if (!recipient_delimiter_.empty()) {
    size_t d = user.find_first_of(recipient_delimiter_);
    if (d != std::string::npos && d > 0) bare = user.substr(0, d);
  }
  // Postfix's mail_addr_find order: user+ext@domain, user@domain, then (local
  // domains) user+ext, user, then @domain.
  std::vector<std::string> keys;
  bool ext = bare != user;
  if (!rcpt.domain.empty()) keys.push_back(user + "@" + domain);
  if (!rcpt.domain.empty() && ext) keys.push_back(bare + "@" + domain);
  if (local) keys.push_back(user);
  if (local && ext) keys.push_back(bare);
  if (!rcpt.domain.empty()) keys.push_back("@" + domain);
  for (const std::string& k : keys) {
    auto r = maps.Lookup(k);
    if (!r) return Err(r.error());
    if (r->has_value()) return true;
  }
  return false;
}

std::optional<bool> Policy::ForeignLocalSender(const Facts& f) {
  if (!f.sender || f.sender->null || f.sender->domain.empty() || f.sasl_authenticated) return false;
  auto d = Classify(*f.sender);
  if (!d) {
    log::Warning("{}", d.error());
    return std::nullopt;
  }
  if (*d != Destination::kLocal) return false;
  auto inside = mynetworks_.Contains(f.client_addr);
  if (!inside) return std::nullopt;
  return !*inside;
}

}  // namespace postern::smtpd
