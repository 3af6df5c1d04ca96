// smtpd/policy_cache.cc — the restrictions that keep state in the policy
// cache: check_greylist (Plan 9's -g, smtpf's grey:) and check_message_limits
// (smtpf's msg-limit:). The step itself decides what it can without the cache
// (mynetworks, AUTH, the admin's tables); the rest waits in c.cache until the
// session has run RunCacheStep and handed the answer to AddCacheAnswer.
#include <algorithm>
#include <ctime>
#include <tuple>

#include "postern/stats/policy_cache.h"
#include "postern/stats/cache_keys.h"
#include "postern/log/log.h"
#include "postern/util/strings.h"
#include "smtpd/abuse.h"  // OptionalTables, ParamSeconds
#include "smtpd/policy.h"

namespace postern::smtpd {

struct Policy::Grey {
  std::vector<cache::GreyField> fields;
  uint64_t delay = 300, window = 2 * 86400, lifetime = 35 * 86400;
  uint64_t auto_whitelist = 5;
  bool content = false;  // greylist_key names content: end of data only
  std::shared_ptr<table::TableList> whitelist, blacklist;
  std::string error;  // a table that could not be opened: 451 4.3.5 where reached
};

struct Policy::Limits {
  struct Kind {
    std::string name;   // "client-ip", "sender", "recipient"
    Stage stage;
    std::string label;  // "Client host", ... as Postfix's reply classes
    long long limit = 0;
    std::shared_ptr<table::TableList> maps;
  };
  Kind kinds[3];
  uint64_t window = 3600;
  int code = 450;
  std::string delimiter;  // recipient_delimiter
  std::string error;
};

namespace {

// Found in the table as a client (name or address), a sender or a recipient.
Result<bool> Listed(table::TableList& t, const Facts& f, const std::string& delim) {
  auto r = table::LookupClient(t, f.client_name, f.client_addr);
  if (!r) return Err(r.error());
  if (r->has_value()) return true;
  for (const smtp::Address* a : {f.sender, f.recipient}) {
    if (!a || a->null) continue;
    r = table::LookupAddress(t, a->Canonical(), {delim, true});
    if (!r) return Err(r.error());
    if (r->has_value()) return true;
  }
  return false;
}

// What a failed cache request makes of the step (policy_cache_failure_action);
// named at most once a minute per process, however many sessions it hits.
Verdict CacheFailure(bool defer, const std::string& step, const std::string& why) {
  static std::time_t logged = 0;
  std::time_t now = std::time(nullptr);
  if (now - logged >= 60) {
    logged = now;
    log::Warning("{}: policy cache: {}; {}", step, why, defer ? "answering 451 4.3.0" : "going on as if it passed");
  }
  if (!defer) return {};
  return Verdict{Verdict::Kind::kReject, 451, "4.3.0", "Temporary lookup failure", true};
}

Verdict Refuse(int code, std::string subject, std::string text) {
  std::string enh = code < 500 ? "4.7.1" : "5.7.1";
  return Verdict{Verdict::Kind::kReject, code, enh, std::move(subject) + ": " + std::move(text), false};
}

// Greylisting, smtpf's way: a client whose passes reached the auto-whitelist
// count passes; else the triplet's record is counted: new or younger than
// greylist_delay → 450; older (it expires after delay + retry window) → it
// becomes "pass" for greylist_record_lifetime and the client's passes count.
void RunGrey(cache::Cache& cache, std::shared_ptr<const Policy::Grey> g, std::string triplet, std::string white,
             std::string subject, bool defer, std::function<void(Verdict)> done) {
  auto fail = [defer, done](const std::string& why) { done(CacheFailure(defer, "check_greylist", why)); };
  auto passed = [&cache, g, white, done](uint64_t age, const std::string& key) {
    if (age) log::Info("greylist: {} passed after {}s", key, age);
    if (!g->auto_whitelist) return done({});
    cache.Hit(white, "", g->lifetime, [&cache, g, white, done](Result<cache::Record> w) {
      if (w && w->hits > 1) cache.Put(white, "", g->lifetime, [](Result<bool>) {});  // a pass keeps it alive
      done({});
    });
  };
  auto triplet_check = [&cache, g, triplet, subject, done, fail, passed]() {
    cache.Hit(triplet, "grey", g->delay + g->window, [&cache, g, triplet, subject, done, fail, passed](Result<cache::Record> r) {
      if (!r) return fail(r.error());
      if (r->value == "pass") {
        cache.Put(triplet, "pass", g->lifetime, [](Result<bool>) {});
        return done({});
      }
      std::time_t now = std::time(nullptr);
      uint64_t age = now > r->created ? uint64_t(now - r->created) : 0;
      if (r->hits <= 1 || age < g->delay)
        return done(Refuse(450, subject, "Greylisted, please try again in " + std::to_string(g->delay - std::min(age, g->delay)) +
                                             " seconds"));
      cache.Put(triplet, "pass", g->lifetime, [triplet, age, fail, passed](Result<bool> p) {
        if (!p) return fail(p.error());
        passed(std::max<uint64_t>(age, 1), triplet);
      });
    });
  };
  if (!g->auto_whitelist) return triplet_check();
  cache.Get(white, [g, fail, done, triplet_check](Result<std::optional<cache::Record>> r) {
    if (!r) return fail(r.error());
    if (*r && (*r)->hits >= g->auto_whitelist) return done({});
    triplet_check();
  });
}

// One message-limit counter: counted (Hit) or only read (Get, for the
// further recipients of a message already counted).
struct Counter {
  std::string key;
  long long limit;
  bool count;
  Verdict over;
};

void RunCounters(cache::Cache& cache, std::shared_ptr<std::vector<Counter>> list, size_t i, uint64_t window, bool defer,
                 std::function<void(Verdict)> done) {
  if (i == list->size()) return done({});
  const Counter& c = (*list)[i];
  auto fail = [defer, done](const std::string& why) { done(CacheFailure(defer, "check_message_limits", why)); };
  auto next = [&cache, list, i, window, defer, done](uint64_t hits) {
    const Counter& c = (*list)[i];
    if (hits > uint64_t(c.limit)) {
      log::Info("message limit: {}: {} messages, limit {}", c.key, hits, c.limit);
      return done(c.over);
    }
    RunCounters(cache, list, i + 1, window, defer, done);
  };
  if (c.count) {
    cache.Hit(c.key, "", window, [fail, next](Result<cache::Record> r) {
      if (!r) return fail(r.error());
      next(r->hits);
    });
  } else {
    cache.Get(c.key, [fail, next](Result<std::optional<cache::Record>> r) {
      if (!r) return fail(r.error());
      next(*r ? (*r)->hits : 0);
    });
  }
}

// The limit for one key: its maps' number, else the default (0: none).
long long LimitFor(const Policy::Limits& l, size_t kind, const Facts& f, const std::string& what);

}  // namespace

Result<void> Policy::LoadCacheSettings(const config::Config& cfg) {
  auto defer = cache::DeferOnFailure(cfg);
  if (!defer) return Err(defer.error());
  cache_defer_ = *defer;
  auto g = std::make_shared<Grey>();
  auto fields = cache::ParseGreyFields(cfg.List("greylist_key"));
  if (!fields) return Err(fields.error());
  g->fields = std::move(*fields);
  g->content = cache::HasContent(g->fields);
  for (auto [param, out] : {std::pair{"greylist_delay", &g->delay}, std::pair{"greylist_retry_window", &g->window},
                            std::pair{"greylist_record_lifetime", &g->lifetime}}) {
    auto t = ParamSeconds(cfg, param);
    if (!t) return Err(t.error());
    *out = *t;
  }
  auto awl = cfg.GetInt("greylist_auto_whitelist_count");
  if (!awl) return Err(awl.error());
  g->auto_whitelist = uint64_t(std::max(0LL, *awl));
  for (auto [param, out] : {std::pair{"greylist_whitelist_maps", &g->whitelist},
                            std::pair{"greylist_blacklist_maps", &g->blacklist}}) {
    auto t = OptionalTables(cfg, param);
    if (t) *out = std::move(*t);
    else g->error = t.error();
  }
  grey_ = std::move(g);

  auto l = std::make_shared<Limits>();
  const std::tuple<const char*, Stage, const char*> kinds[] = {{"client-ip", Stage::kClient, "smtpd_client_message_limit"},
                                                               {"sender", Stage::kSender, "smtpd_sender_message_limit"},
                                                               {"recipient", Stage::kRecipient, "smtpd_recipient_message_limit"}};
  for (size_t i = 0; i < 3; ++i) {
    auto [name, stage, param] = kinds[i];
    auto n = cfg.GetInt(param);
    if (!n) return Err(n.error());
    const char* label = i == 0 ? "Client host" : i == 1 ? "Sender address" : "Recipient address";
    l->kinds[i] = {name, stage, label, std::max(0LL, *n), nullptr};
    auto t = OptionalTables(cfg, std::string(param) + "_maps");
    if (t) l->kinds[i].maps = std::move(*t);
    else l->error = t.error();
  }
  auto w = ParamSeconds(cfg, "smtpd_message_limit_window");
  if (!w) return Err(w.error());
  l->window = std::max<uint64_t>(1, *w);
  auto code = cfg.GetInt("smtpd_message_limit_reject_code");
  if (!code) return Err(code.error());
  if (*code < 400 || *code > 599) return Err("smtpd_message_limit_reject_code: not a 4xx or 5xx code");
  l->code = int(*code);
  l->delimiter = cfg.Str("recipient_delimiter");
  limits_ = std::move(l);
  return {};
}

// check_greylist and check_message_limits: what needs no cache is decided
// here; otherwise the step waits (c.cache) and runs again with the answer.
Verdict Policy::CacheStep(const Step& s, Stage stage, const Facts& f, Check& c) {
  for (auto& [name, v] : c.cache_answers)
    if (name == s.name) return v;
  auto config_error = [&](const std::string& why) {
    log::Warning("{}: {}; answering 451 4.3.5", s.name, why);
    return Verdict{Verdict::Kind::kReject, 451, "4.3.5", "Server configuration error", true};
  };
  if (s.name == "check_greylist") {
    // Never greylisted: our own networks and clients that logged in.
    if (f.sasl_authenticated) return {};
    auto mine = mynetworks_.Contains(f.client_addr);
    if (!mine) return config_error("mynetworks could not be read");
    if (*mine || (!f.recipient && f.recipients.empty()) || !f.sender) return {};
    if (!grey_->error.empty()) return config_error(grey_->error);
    if (grey_->content && stage != Stage::kEod)
      return config_error("greylist_key names content, which only smtpd_end_of_data_restrictions can see");
    for (auto [t, white] : {std::pair{grey_->whitelist.get(), true}, std::pair{grey_->blacklist.get(), false}}) {
      if (!t) continue;
      auto hit = Listed(*t, f, recipient_delimiter_);
      if (!hit) {
        log::Warning("{}: {}", s.name, hit.error());
        return Verdict{Verdict::Kind::kReject, 451, "4.3.0", RejectSubject(Stage::kRecipient, f) + ": Temporary lookup failure",
                       true};
      }
      if (!*hit) continue;
      if (white) return {};
      return Reject(Stage::kRecipient, f, 554, "5.7.1", "Access denied");
    }
  } else {
    if (!limits_->error.empty()) return config_error(limits_->error);
    bool any = false;
    for (const Limits::Kind& k : limits_->kinds) any |= k.limit > 0 || k.maps;
    if (!any || !f.recipient || !f.sender) return {};
  }
  c.cache = s.name;
  return {};
}

namespace {

long long LimitFor(const Policy::Limits& l, size_t kind, const Facts& f, const std::string& what) {
  const Policy::Limits::Kind& k = l.kinds[kind];
  if (!k.maps) return k.limit;
  table::LookupResult r = kind == 0 ? table::LookupClient(*k.maps, f.client_name, f.client_addr)
                                    : table::LookupAddress(*k.maps, what, {l.delimiter, true});
  if (!r) {
    log::Warning("{}_maps: {}; using the default limit", k.name, r.error());
    return k.limit;
  }
  if (!r->has_value()) return k.limit;
  unsigned long long n = 0;
  if (!ParseUnsigned(Trim(**r), &n)) {
    log::Warning("message limit for {} \"{}\" is not a number; using the default limit", what, **r);
    return k.limit;
  }
  return (long long)(n);
}

}  // namespace

void Policy::RunCacheStep(const Check& c, const Facts& f, const CacheContext& ctx, std::function<void(Verdict)> done) {
  const std::string& step = *c.cache;
  if (!ctx.cache) return done(CacheFailure(cache_defer_, step, "the policy cache could not be opened"));
  if (step == "check_greylist") {
    // At DATA and end of data with several recipients, the key names them all.
    std::string sender = f.sender->Canonical(), rcpt = f.recipient ? f.recipient->Canonical() : std::string(f.recipients);
    cache::GreyFacts gf{f.client_addr, f.client_name, f.helo, sender, rcpt, f.content_md5};
    std::string subject = RejectSubject(c.at, f) + (c.at == Stage::kData  ? ": Data command rejected"
                                                    : c.at == Stage::kEod ? ": End-of-data rejected"
                                                                          : ": Recipient address rejected");
    return RunGrey(*ctx.cache, grey_, cache::GreyKey(grey_->fields, gf), cache::GreyWhiteKey(grey_->fields, f.client_addr),
                   subject, cache_defer_, std::move(done));
  }
  auto list = std::make_shared<std::vector<Counter>>();
  const std::string whats[3] = {std::string(f.client_addr), f.sender->Canonical(), f.recipient->Canonical()};
  for (size_t i = 0; i < 3; ++i) {
    const Limits::Kind& k = limits_->kinds[i];
    if (i == 1 && f.sender->null) continue;  // bounces are not one sender's mail
    long long limit = LimitFor(*limits_, i, f, whats[i]);
    if (limit <= 0) continue;
    std::string text = k.label + " rejected: Too many messages (" + std::to_string(limit) + " per " +
                       std::to_string(limits_->window) + " seconds)";
    list->push_back({cache::MessageLimitKey(k.name, whats[i]), limit, i == 2 || ctx.count_message,
                     Refuse(limits_->code, RejectSubject(k.stage, f), text)});
  }
  RunCounters(*ctx.cache, list, 0, limits_->window, cache_defer_, std::move(done));
}

bool Policy::wants_content_md5() const {
  if (!grey_->content) return false;
  for (const List& l : eod_lists_)
    for (const Step& s : l.steps)
      if (s.name == "check_greylist" || classes_.count(s.name)) return true;
  return false;
}

void Policy::AddCacheAnswer(Check& c, Verdict v) {
  if (!c.cache) return;
  c.cache_answers.emplace_back(std::move(*c.cache), std::move(v));
  c.cache.reset();
}

}  // namespace postern::smtpd
