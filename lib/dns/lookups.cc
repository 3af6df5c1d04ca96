// dns/lookups.cc — the Resolver's lookups: addresses (A+AAAA), MX with its
// exchangers' addresses (implicit and null MX), TXT, TLSA, PTR and the
// forward-confirmed client name. Intermediate steps run inside c-ares'
// processing; only the final result goes through Deliver.
#include <fmt/format.h>

#include <algorithm>

#include "postern/dns/resolver.h"
#include "postern/util/strings.h"

namespace postern::dns {
namespace {

// Bounds one lookup's fan-out: more exchangers or PTR names than this are
// never useful and would only multiply queries.
constexpr size_t kMaxExchangers = 32;
constexpr size_t kMaxPtrNames = 10;

Outcome Failure(Status s, std::string_view name, RrType type, std::string detail) {
  return Outcome{s, DescribeFailure(s, name, type), std::move(detail)};
}

Outcome BadName(std::string_view name, RrType type, std::string why) {
  return Failure(Status::kPermFail, name, type, std::move(why));
}

// Which failure speaks for several: temporary beats permanent (the mail is
// retried, not bounced), and among permanent ones NXDOMAIN only if all agree.
const Outcome* WorstOf(const std::vector<const Outcome*>& outcomes) {
  const Outcome* pick = nullptr;
  for (const auto* o : outcomes) {
    if (o->ok()) continue;
    if (!pick || o->temporary() || (!pick->temporary() && pick->status == Status::kNxDomain))
      pick = o;
    if (pick->temporary()) break;
  }
  return pick;
}

}  // namespace

// ---- addresses ----------------------------------------------------------

void Resolver::ResolveAddresses(const std::string& name, bool v4, bool v6, const StatePtr& st,
                                std::function<void(AddressResult)> done) {
  struct Family {
    Outcome outcome;
    std::vector<IpAddress> addresses;
    bool authentic = false;
    uint32_t ttl = 0;
  };
  struct Acc {
    int remaining = 0;
    Family fam[2];  // [0] A, [1] AAAA
  };
  auto acc = std::make_shared<Acc>();
  acc->remaining = (v4 ? 1 : 0) + (v6 ? 1 : 0);
  auto finish = [acc, v4, v6, done = std::move(done)] {
    AddressResult r;
    std::vector<const Outcome*> outcomes;
    r.authentic = true;
    r.ttl = UINT32_MAX;
    for (int i = 0; i < 2; ++i) {
      if (!(i == 0 ? v4 : v6)) continue;
      auto& f = acc->fam[i];
      r.ttl = std::min(r.ttl, f.ttl);
      r.addresses.insert(r.addresses.end(), f.addresses.begin(), f.addresses.end());
      r.authentic = r.authentic && f.authentic;
      outcomes.push_back(&f.outcome);
    }
    if (r.ttl == UINT32_MAX) r.ttl = 0;
    if (r.addresses.empty()) {
      if (const Outcome* worst = WorstOf(outcomes)) r.outcome = *worst;
    }
    done(std::move(r));
  };
  auto ask = [&](int i, RrType type) {
    Send(name, type, [acc, i, type, name, finish](const Raw& raw) {
      auto& f = acc->fam[i];
      Status s = raw.status;
      f.ttl = AnswerTtl(raw.answer);
      if (s == Status::kOk) {
        auto parsed = type == RrType::kA ? ParseA(raw.answer) : ParseAaaa(raw.answer);
        s = parsed.status;
        f.addresses = std::move(parsed.records);
        f.authentic = raw.authentic;
      }
      if (s != Status::kOk) f.outcome = Failure(s, name, type, raw.detail);
      if (--acc->remaining == 0) finish();
    });
  };
  if (v4) ask(0, RrType::kA);
  if (v6) ask(1, RrType::kAaaa);
}

Ticket Resolver::LookupAddresses(std::string_view host, std::function<void(AddressResult)> done) {
  auto st = std::make_shared<Ticket::State>();
  auto deliver = [this, st, done = std::move(done)](AddressResult r) {
    Deliver(st, [done, r = std::move(r)] { done(r); });
  };
  if (auto ip = IpAddress::Parse(host)) {
    AddressResult r;
    r.addresses.push_back(*ip);
    deliver(std::move(r));
    return Ticket(st);
  }
  auto name = NormalizeName(host);
  if (!name) {
    AddressResult r;
    r.outcome = BadName(host, options_.ipv4 ? RrType::kA : RrType::kAaaa, name.error());
    deliver(std::move(r));
    return Ticket(st);
  }
  ResolveAddresses(*name, options_.ipv4, options_.ipv6, st, std::move(deliver));
  return Ticket(st);
}

// ---- MX -----------------------------------------------------------------

Ticket Resolver::LookupMx(std::string_view domain, std::function<void(MxResult)> done) {
  auto st = std::make_shared<Ticket::State>();
  auto name = NormalizeName(domain);
  if (!name) {
    MxResult r;
    r.outcome = BadName(domain, RrType::kMx, name.error());
    Deliver(st, [done = std::move(done), r = std::move(r)] { done(r); });
    return Ticket(st);
  }
  Send(*name, RrType::kMx, [this, d = *name, st, done = std::move(done)](const Raw& raw) {
    OnMxAnswer(d, raw, st, done);
  });
  return Ticket(st);
}

void Resolver::OnMxAnswer(const std::string& domain, const Raw& raw, const StatePtr& st,
                          std::function<void(MxResult)> done) {
  if (st->cancelled) return;
  auto result = std::make_shared<MxResult>();
  Status s = raw.status;
  Parsed<Mx> mx;
  if (s == Status::kOk) {
    mx = ParseMx(raw.answer);
    s = mx.status;
  }
  if (s == Status::kNoData) {
    // No MX: the domain is its own exchanger at preference 0 (RFC 5321 5.1).
    result->implicit = true;
    result->authentic = raw.authentic;  // DANE asks whether the denial was secure
    result->hosts.push_back(MxHost{domain, 0, {}, {}, false});
    ResolveExchangers(result, st, std::move(done));
    return;
  }
  if (s != Status::kOk) {
    result->outcome = Failure(s, domain, RrType::kMx, raw.detail);
  } else if (IsNullMx(mx.records)) {
    result->null_mx = true;
    result->outcome = Outcome{Status::kPermFail,
                              fmt::format("Domain {} does not accept mail (nullMX)", domain), ""};
  }
  result->authentic = raw.authentic;
  if (!result->outcome.ok()) {
    Deliver(st, [done = std::move(done), result] { done(std::move(*result)); });
    return;
  }
  auto ordered = OrderMx(std::move(mx.records), rng_);
  if (ordered.size() > kMaxExchangers) ordered.resize(kMaxExchangers);
  for (auto& m : ordered) result->hosts.push_back(MxHost{std::move(m.exchange), m.preference, {}, {}, false});
  ResolveExchangers(result, st, std::move(done));
}

void Resolver::ResolveExchangers(std::shared_ptr<MxResult> result, const StatePtr& st,
                                 std::function<void(MxResult)> done) {
  auto remaining = std::make_shared<size_t>(result->hosts.size());
  auto finish = [this, result, st, done = std::move(done)] {
    std::vector<const Outcome*> outcomes;
    bool any = false;
    for (const auto& h : result->hosts) {
      any = any || !h.addresses.empty();
      outcomes.push_back(&h.outcome);
    }
    if (!any) {
      if (const Outcome* worst = WorstOf(outcomes)) result->outcome = *worst;
    }
    Deliver(st, [done, result] { done(std::move(*result)); });
  };
  for (size_t i = 0; i < result->hosts.size(); ++i) {
    auto name = NormalizeName(result->hosts[i].name);
    auto record = [result, i, remaining, finish](AddressResult r) {
      auto& h = result->hosts[i];
      h.outcome = std::move(r.outcome);
      h.addresses = std::move(r.addresses);
      h.authentic = r.authentic;
      if (--*remaining == 0) finish();
    };
    if (!name) {
      AddressResult bad;
      bad.outcome = BadName(result->hosts[i].name, RrType::kA, name.error());
      record(std::move(bad));
      continue;
    }
    ResolveAddresses(*name, options_.ipv4, options_.ipv6, st, std::move(record));
  }
}

// ---- TXT, NS, TLSA, PTR -----------------------------------------------------

Ticket Resolver::LookupTxt(std::string_view name, std::function<void(TxtResult)> done) {
  return LookupRecords(name, RrType::kTxt, ParseTxt, std::move(done));
}

Ticket Resolver::LookupNs(std::string_view domain, std::function<void(NsResult)> done) {
  return LookupRecords(domain, RrType::kNs, ParseNs, std::move(done));
}

Ticket Resolver::LookupRecords(std::string_view name, RrType type,
                               Parsed<std::string> (*parse)(std::span<const uint8_t>),
                               std::function<void(RecordsResult)> done) {
  auto st = std::make_shared<Ticket::State>();
  auto n = NormalizeName(name);
  auto finish = [this, st, done = std::move(done)](RecordsResult r) {
    Deliver(st, [done, r = std::move(r)] { done(r); });
  };
  if (!n) {
    finish(RecordsResult{BadName(name, type, n.error()), {}, 0});
    return Ticket(st);
  }
  Send(*n, type, [n = *n, type, parse, finish](const Raw& raw) {
    RecordsResult r;
    Status s = raw.status;
    r.ttl = AnswerTtl(raw.answer);
    if (s == Status::kOk) {
      auto parsed = parse(raw.answer);
      s = parsed.status;
      r.records = std::move(parsed.records);
    }
    if (s != Status::kOk) r.outcome = Failure(s, n, type, raw.detail);
    finish(std::move(r));
  });
  return Ticket(st);
}

Ticket Resolver::LookupTlsa(std::string_view name, std::function<void(TlsaResult)> done) {
  auto st = std::make_shared<Ticket::State>();
  auto n = NormalizeName(name);
  auto finish = [this, st, done = std::move(done)](TlsaResult r) {
    Deliver(st, [done, r = std::move(r)] { done(r); });
  };
  if (!n) {
    finish(TlsaResult{BadName(name, RrType::kTlsa, n.error()), {}, false});
    return Ticket(st);
  }
  Send(*n, RrType::kTlsa, [n = *n, finish](const Raw& raw) {
    TlsaResult r;
    Status s = raw.status;
    if (s == Status::kOk) {
      auto parsed = ParseTlsa(raw.answer);
      s = parsed.status;
      r.records = std::move(parsed.records);
      r.authentic = raw.authentic;
    }
    if (s != Status::kOk) r.outcome = Failure(s, n, RrType::kTlsa, raw.detail);
    finish(std::move(r));
  });
  return Ticket(st);
}

Ticket Resolver::LookupPtr(const IpAddress& addr, std::function<void(PtrResult)> done) {
  auto st = std::make_shared<Ticket::State>();
  std::string rev = addr.ReverseName();
  Send(rev, RrType::kPtr, [this, st, addr, rev, done = std::move(done)](const Raw& raw) {
    PtrResult r;
    Status s = raw.status;
    if (s == Status::kOk) {
      auto parsed = ParsePtr(raw.answer, addr);
      s = parsed.status;
      r.names = std::move(parsed.records);
    }
    if (s != Status::kOk) r.outcome = Failure(s, rev, RrType::kPtr, raw.detail);
    Deliver(st, [done, r = std::move(r)] { done(r); });
  });
  return Ticket(st);
}

// ---- forward-confirmed reverse name -------------------------------------

Ticket Resolver::LookupConfirmedName(const IpAddress& addr,
                                     std::function<void(ConfirmedNameResult)> done) {
  auto st = std::make_shared<Ticket::State>();
  if (std::vector<std::string> listed = hosts_.ConfirmedNamesOf(addr); !listed.empty()) {
    ConfirmedNameResult r{{}, listed.front(), listed.front()};
    Deliver(st, [done = std::move(done), r = std::move(r)] { done(r); });
    return Ticket(st);
  }
  std::string rev = addr.ReverseName();
  Send(rev, RrType::kPtr, [this, st, addr, rev, done = std::move(done)](const Raw& raw) {
    if (st->cancelled) return;
    Status s = raw.status;
    std::vector<std::string> names;
    if (s == Status::kOk) {
      auto parsed = ParsePtr(raw.answer, addr);
      s = parsed.status;
      names = std::move(parsed.records);
    }
    if (s != Status::kOk) {
      ConfirmedNameResult r{Failure(s, rev, RrType::kPtr, raw.detail), "", ""};
      Deliver(st, [done, r = std::move(r)] { done(r); });
      return;
    }
    if (names.size() > kMaxPtrNames) names.resize(kMaxPtrNames);
    ConfirmNames(addr, std::move(names), st, done);
  });
  return Ticket(st);
}

void Resolver::ConfirmNames(const IpAddress& addr, std::vector<std::string> names,
                            const StatePtr& st, std::function<void(ConfirmedNameResult)> done) {
  struct Acc {
    std::vector<std::string> names;
    std::vector<AddressResult> found;
    size_t remaining;
  };
  auto acc = std::make_shared<Acc>();
  acc->found.resize(names.size());
  acc->remaining = names.size();
  acc->names = std::move(names);
  auto finish = [this, acc, addr, st, done = std::move(done)] {
    ConfirmedNameResult r;
    r.reverse_name = acc->names.front();
    bool temporary = false;
    for (size_t i = 0; i < acc->names.size(); ++i) {
      const auto& a = acc->found[i].addresses;
      if (std::find(a.begin(), a.end(), addr) != a.end()) {
        r.name = acc->names[i];
        break;
      }
      temporary = temporary || acc->found[i].outcome.temporary();
    }
    if (r.name.empty() && temporary) {
      r.outcome = Outcome{Status::kTempFail,
                          fmt::format("hostname {} verification failed: Temporary failure in name resolution",
                                      r.reverse_name),
                          ""};
    } else if (r.name.empty()) {
      r.outcome = Outcome{Status::kNoData,
                          fmt::format("hostname {} does not resolve to address {}", r.reverse_name,
                                      addr.ToString()),
                          ""};
    }
    Deliver(st, [done, r = std::move(r)] { done(r); });
  };
  for (size_t i = 0; i < acc->names.size(); ++i) {
    auto record = [acc, i, finish](AddressResult r) {
      acc->found[i] = std::move(r);
      if (--acc->remaining == 0) finish();
    };
    auto n = NormalizeName(acc->names[i]);
    if (!n) {
      AddressResult bad;
      bad.outcome = BadName(acc->names[i], RrType::kA, n.error());
      record(std::move(bad));
      continue;
    }
    ResolveAddresses(*n, addr.is_v4(), addr.is_v6(), st, std::move(record));
  }
}

}  // namespace postern::dns
