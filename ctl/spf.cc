// ctl/spf.cc — `postern spf walk`: reads domain names on stdin and prints the
// IPv4/IPv6 ranges their SPF records authorise, one per line (as OpenSMTPD's
// smtpctl spf walk), following include:, redirect=, a and mx through the
// resolver (dns_servers). Each domain is walked once (loops end there), and
// each input domain may cost at most kMaxLookups DNS lookups (RFC 7208 4.6.4).
#include <cstdio>
#include <iostream>
#include <memory>
#include <set>
#include <string>

#include "ctl/spf_record.h"
#include "ctl/tools.h"
#include "postern/dns/resolver.h"
#include "postern/event/event.h"
#include "postern/log/log.h"
#include "postern/util/strings.h"

namespace postern::ctl {

namespace {

constexpr int kMaxLookups = 10;    // mechanisms that cost a lookup, per input domain
constexpr size_t kMaxLine = 1024;

std::string WithCidr(const dns::IpAddress& ip, const spf::Term& t) {
  int len = ip.is_v4() ? t.cidr4 : t.cidr6;
  return len < 0 ? ip.ToString() : ip.ToString() + "/" + std::to_string(len);
}

// One input domain's walk. Lookups run concurrently on the loop; the walk is
// done when none is pending.
class Walk {
 public:
  Walk(dns::Resolver* r, std::set<std::string>* printed, std::string top)
      : resolver_(r), printed_(printed), top_(std::move(top)) {}

  void Domain(const std::string& name) {
    std::string key = ToLower(name);
    if (!key.empty() && key.back() == '.') key.pop_back();
    if (!seen_.insert(key).second) {
      log::Warning("spf walk: {}: {} is visited twice (a loop); not followed again", top_, key);
      return;
    }
    if (!Spend(key)) return;
    tickets_.push_back(resolver_->LookupTxt(key, [this, key](dns::TxtResult r) { OnTxt(key, r); }));
  }

 private:
  bool Spend(const std::string& what) {
    if (lookups_ >= kMaxLookups) {
      if (!over_) log::Warning("spf walk: {}: more than {} DNS lookups; {} and beyond not followed", top_, kMaxLookups, what);
      over_ = true;
      return false;
    }
    ++lookups_;
    return true;
  }

  void Print(const std::string& range) {
    if (printed_->insert(range).second) std::printf("%s\n", range.c_str());
  }

  void OnTxt(const std::string& domain, const dns::TxtResult& r) {
    if (!r.outcome.ok()) {
      log::Warning("spf walk: {}: {}", domain, r.outcome.reason);
      return;
    }
    int found = 0;
    for (const auto& txt : r.records) {
      if (!spf::IsSpf1(txt)) continue;
      ++found;
      auto terms = spf::Parse(txt);
      if (!terms) {
        log::Warning("spf walk: {}: malformed SPF record \"{}\"", domain, txt);
        continue;
      }
      for (const auto& t : *terms) Follow(domain, t);
    }
    if (found == 0) log::Warning("spf walk: {}: no SPF record", domain);
  }

  void Follow(const std::string& domain, const spf::Term& t) {
    // Only "pass" terms authorise senders; -, ~ and ? name the others.
    if (t.qualifier != '+' && t.kind != spf::Kind::kRedirect) return;
    std::string target = t.arg.empty() ? domain : t.arg;
    if (target.find('%') != std::string::npos) {
      log::Warning("spf walk: {}: macro in \"{}\" not expanded", domain, target);
      return;
    }
    switch (t.kind) {
      case spf::Kind::kIp4:
      case spf::Kind::kIp6: Print(t.arg); break;
      case spf::Kind::kInclude:
      case spf::Kind::kRedirect: Domain(target); break;
      case spf::Kind::kA:
        if (!Spend(target)) return;
        tickets_.push_back(resolver_->LookupAddresses(target, [this, t, target](dns::AddressResult r) {
          if (!r.outcome.ok()) log::Warning("spf walk: {}: {}", target, r.outcome.reason);
          for (const auto& ip : r.addresses) Print(WithCidr(ip, t));
        }));
        break;
      case spf::Kind::kMx:
        if (!Spend(target)) return;
        tickets_.push_back(resolver_->LookupMx(target, [this, t, target](dns::MxResult r) {
          if (!r.outcome.ok()) log::Warning("spf walk: {}: {}", target, r.outcome.reason);
          for (const auto& h : r.hosts)
            for (const auto& ip : h.addresses) Print(WithCidr(ip, t));
        }));
        break;
      case spf::Kind::kOther: break;
    }
  }

  dns::Resolver* resolver_;
  std::set<std::string>* printed_;
  std::string top_;
  std::set<std::string> seen_;
  std::vector<dns::Ticket> tickets_;
  int lookups_ = 0;
  bool over_ = false;
};

int SpfWalk(Context& ctx) {
  if (!ctx.args.empty()) {
    log::Error("usage: postern spf walk < domains");
    return 1;
  }
  auto opts = dns::ResolverOptions::FromConfig(ctx.cfg);
  if (!opts) {
    log::Error("{}", opts.error());
    return 1;
  }
  // SPF names both families whatever this host's inet_protocols.
  opts->ipv4 = opts->ipv6 = true;
  event::Loop loop;
  std::set<std::string> printed;
  std::vector<std::unique_ptr<Walk>> walks;
  {
    auto resolver = dns::Resolver::Create(loop.get(), *opts);
    if (!resolver) {
      log::Error("resolver: {}", resolver.error());
      return 1;
    }
    for (std::string line; std::getline(std::cin, line);) {
      std::string name(Trim(line.substr(0, kMaxLine)));
      if (name.empty() || name[0] == '#') continue;
      walks.push_back(std::make_unique<Walk>(resolver->get(), &printed, name));
      walks.back()->Domain(name);
    }
    loop.Run();
    walks.clear();
  }
  loop.Run();  // lets the resolver's handles close
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

const std::vector<Command>& SpfCommands() {
  static const std::vector<Command> commands = {
      {{"spf", "walk"}, "", "print the IP ranges of the SPF records of domains read from stdin", SpfWalk},
  };
  return commands;
}

}  // namespace postern::ctl
