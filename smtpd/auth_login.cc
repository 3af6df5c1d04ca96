// smtpd/auth_login.cc — smtpd_sender_login_maps (sender address → the SASL
// logins that own it) and Postfix's reject_*sender_login_mismatch checks.
#include "postern/log/log.h"
#include "postern/util/strings.h"
#include "smtpd/auth.h"
#include "smtpd/policy.h"

namespace postern::smtpd {

namespace {

constexpr std::string_view kRestrictions[] = {
    "reject_sender_login_mismatch",
    "reject_authenticated_sender_login_mismatch",
    "reject_unauthenticated_sender_login_mismatch",
    "reject_known_sender_login_mismatch",
};

Verdict Reject(int code, std::string_view enh, std::string text, bool temporary = false) {
  return Verdict{Verdict::Kind::kReject, code, std::string(enh), std::move(text), temporary};
}

}  // namespace

Result<SenderLogin> SenderLogin::Load(const config::Config& cfg) {
  SenderLogin s;
  auto refs = cfg.GetTables("smtpd_sender_login_maps");
  if (!refs) return Err(refs.error());
  if (refs->empty()) return s;
  auto maps = table::TableList::Open(*refs);
  if (!maps) return Err("smtpd_sender_login_maps: " + maps.error());
  s.maps_ = std::make_shared<table::TableList>(std::move(*maps));
  return s;
}

bool SenderLogin::IsRestriction(std::string_view name) {
  for (std::string_view r : kRestrictions)
    if (r == name) return true;
  return false;
}

// Postfix's mail_addr_find order for a remote sender: the address, then @domain.
Result<SenderLogin::Owners> SenderLogin::Lookup(const smtp::Address& sender, std::string_view login) {
  Owners o;
  std::string addr = ToLower(sender.Canonical());
  std::vector<std::string> keys = {addr};
  if (!sender.domain.empty()) keys.push_back("@" + ToLower(sender.domain));
  for (const std::string& k : keys) {
    auto r = maps_->Lookup(k);
    if (!r) return Err(r.error());
    if (!r->has_value()) continue;
    o.owned = true;
    for (const std::string& owner : SplitList(**r))
      if (!login.empty() && EqualsIgnoreCase(owner, login)) o.owned_by_login = true;
    break;  // the most specific entry decides
  }
  return o;
}

Verdict CheckSenderLogin(SenderLogin& maps, std::string_view n, const Facts& f) {
  if (!f.sender || f.sender->null || !maps.configured()) return {};
  bool auth = f.sasl_authenticated;
  bool check_auth = n != "reject_unauthenticated_sender_login_mismatch";
  bool check_unauth = n != "reject_authenticated_sender_login_mismatch";
  if ((auth && !check_auth) || (!auth && !check_unauth)) return {};
  std::string subject = RejectSubject(Policy::Stage::kSender, f);
  auto o = maps.Lookup(*f.sender, auth ? f.sasl_username : std::string_view());
  if (!o) {
    log::Warning("smtpd_sender_login_maps: {}", o.error());
    return Reject(451, "4.3.0", subject + ": Temporary lookup failure", true);
  }
  if (auth) {
    // reject_known_sender_login_mismatch lets unlisted senders through.
    if (o->owned_by_login || (!o->owned && n == "reject_known_sender_login_mismatch")) return {};
    return Reject(553, "5.7.1", subject + ": Sender address rejected: not owned by user " +
                                    std::string(f.sasl_username));
  }
  if (!o->owned) return {};
  return Reject(553, "5.7.1", subject + ": Sender address rejected: not logged in");
}

}  // namespace postern::smtpd
