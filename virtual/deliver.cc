// virtual/deliver.cc — one request, recipient by recipient, as Postfix's
// virtual(8) (recipient.c, mailbox.c, maildir.c): look the recipient up,
// take its ids, write its Maildir or mbox, log one line. See deliver.h.
#include "virtual/deliver.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "postern/log/log.h"
#include "postern/mda/copy.h"
#include "postern/mda/privs.h"
#include "postern/queue/ids.h"
#include "postern/rewrite/virtual.h"
#include "postern/table/surrogate.h"
#include "postern/util/strings.h"

namespace postern::virt {

namespace {

using mda::Verdict;

Verdict ConfigError() { return Verdict::Defer("4.3.5", "mail system configuration error"); }

// Where and as whom one recipient's mail is written.
struct Mailbox {
  std::string path;
  uid_t uid = 0;
  gid_t gid = 0;
};

// The first value of `maps` for the keys; an error is trouble (defer).
table::LookupResult Find(table::TableList& maps, const std::vector<Key>& keys) {
  for (const Key& k : keys) {
    auto r = maps.Lookup(k.text, k.partial);
    if (!r || *r) return r;
  }
  return std::optional<std::string>();
}

// "../" in a table's answer would leave virtual_mailbox_base.
bool ClimbsOut(std::string_view path) {
  for (size_t b = 0; b <= path.size();) {
    size_t e = path.find('/', b);
    if (e == std::string_view::npos) e = path.size();
    if (path.substr(b, e - b) == "..") return true;
    b = e + 1;
  }
  return false;
}

// One id of virtual_uid_maps or virtual_gid_maps, at least `minimum`.
std::optional<long long> Id(table::TableList& maps, const char* param, const char* what, long long minimum,
                            const std::string& user, const std::vector<Key>& keys) {
  auto hit = Find(maps, keys);
  if (!hit) {
    log::Warning("table {}: lookup {}: {}", param, user, hit.error());
    return std::nullopt;
  }
  if (!*hit) {
    log::Warning("recipient {}: not found in {}", user, param);
    return std::nullopt;
  }
  auto id = ParseId(**hit);
  if (!id || *id < minimum) {
    log::Warning("recipient {}: bad {} {} in {}", user, what, **hit, param);
    return std::nullopt;
  }
  return id;
}

// deliver_mailbox: the recipient's mailbox, or the verdict that ends its
// delivery (unknown user: bounce; any trouble: defer).
std::optional<Verdict> Locate(Agent& agent, const std::string& user, Mailbox* box) {
  const Settings& s = agent.settings;
  std::vector<Key> keys = LookupKeys(user, s.recipient_delimiter);
  auto hit = Find(agent.mailboxes, keys);
  if (!hit) {
    log::Warning("table virtual_mailbox_maps: lookup {}: {}", user, hit.error());
    return ConfigError();
  }
  if (!*hit) return Verdict::Bounce("5.1.1", "unknown user: \"" + user + "\"");
  if ((*hit)->empty() || ClimbsOut(**hit)) {
    log::Warning("recipient {}: bad mailbox {} in virtual_mailbox_maps", user, **hit);
    return ConfigError();
  }
  box->path = s.mailbox_base + "/" + **hit;
  auto uid = Id(agent.uids, "virtual_uid_maps", "uid", s.minimum_uid, user, keys);
  if (!uid) return ConfigError();
  auto gid = Id(agent.gids, "virtual_gid_maps", "gid", 1, user, keys);
  if (!gid) return ConfigError();
  box->uid = uid_t(*uid);
  box->gid = gid_t(*gid);
  return std::nullopt;
}

mda::CopyOptions Headers(const mda::Message& m, const ipc::DeliveryRecipient& r) {
  mda::CopyOptions o;
  o.sender = mda::QuoteAddress(m.req.sender);
  o.delivered_to = mda::QuoteAddress(ToLower(r.address));
  o.orig_to = mda::QuoteAddress(mda::OriginalRecipient(r));
  o.now = std::time(nullptr);
  return o;
}

Verdict ToMaildir(const Settings& s, const mda::Message& m, const ipc::DeliveryRecipient& r, const Mailbox& box) {
  std::string data = mda::FormatCopy(Headers(m, r), m.lf);
  if (s.mailbox_limit && data.size() > s.mailbox_limit)
    return Verdict::Bounce("5.2.2", "maildir delivery failed: message file would exceed virtual_mailbox_limit");
  Verdict v = mda::WriteMaildir(box.path, data, s.myhostname, "4.2.0");
  if (v.kind == Verdict::Kind::kSent) return Verdict::Sent("delivered to maildir");
  if (v.text.find(std::strerror(EACCES)) != std::string::npos) {
    log::Warning("maildir access problem for UID/GID={}/{}: {}", box.uid, box.gid, v.text);
    log::Warning("perhaps you need to create the maildirs in advance");
  }
  v.text = "maildir delivery failed: " + v.text;
  return v;
}

Verdict ToMbox(const Settings& s, const mda::Message& m, const ipc::DeliveryRecipient& r, const Mailbox& box) {
  mda::CopyOptions o = Headers(m, r);
  o.from_line = o.quote_from = o.blank_line = true;
  mda::MboxOptions mo;
  mo.locks = s.locks;
  mo.size_limit = s.mailbox_limit;
  mo.limit_param = "virtual_mailbox_limit";
  mo.fail_dsn = "4.2.0";
  Verdict v = mda::AppendMbox(box.path, mda::FormatCopy(o, m.lf), mo);
  if (v.kind == Verdict::Kind::kSent) return Verdict::Sent("delivered to mailbox");
  v.text = "delivery failed to mailbox " + box.path + ": " + v.text;
  return v;
}

// deliver_recipient: the whole address, lower case, decides.
Verdict Recipient(Agent& agent, const mda::Message& m, const ipc::DeliveryRecipient& r) {
  std::string user = ToLower(r.address);
  Mailbox box;
  if (auto v = Locate(agent, user, &box)) return *v;
  // Written as the recipient, so that ownership and disk quotas are the
  // recipient's; back to root afterwards (EffectiveUser's destructor).
  mda::Creds as{box.uid, box.gid, "uid " + std::to_string(box.uid), "", ""};
  mda::EffectiveUser who(as);
  if (!who.error().empty()) return Verdict::Defer("4.3.0", who.error());
  if (box.path.back() == '/') return ToMaildir(agent.settings, m, r, box);
  return ToMbox(agent.settings, m, r, box);
}

}  // namespace

std::vector<Key> LookupKeys(std::string_view address, std::string_view delimiters) {
  std::string lower = ToLower(address);
  std::vector<Key> keys{{lower, false}};
  std::string base, ext;
  char delim = 0;
  if (rewrite::SplitExtension(lower, delimiters, &base, &ext, &delim)) keys.push_back({base, true});
  size_t at = lower.rfind('@');
  if (at != std::string::npos) keys.push_back({lower.substr(at), true});
  return keys;
}

std::optional<long long> ParseId(std::string_view text) {
  text = Trim(text);
  if (text.empty() || text.size() > 10) return std::nullopt;
  long long v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v > 0x7fffffff) return std::nullopt;
  return v;
}

void OpenTables(Agent* agent) {
  const Settings& s = agent->settings;
  agent->mailboxes = table::OpenListOrSurrogates("virtual_mailbox_maps", s.mailbox_maps);
  agent->uids = table::OpenListOrSurrogates("virtual_uid_maps", s.uid_maps);
  agent->gids = table::OpenListOrSurrogates("virtual_gid_maps", s.gid_maps);
}

std::vector<ipc::DeliveryResult> Deliver(Agent& agent, const ipc::DeliveryRequest& req) {
  auto started = std::chrono::steady_clock::now();
  mda::Message m;
  m.req = req;
  m.msgid = queue::FormatMsgId(req.message_id);
  std::string why = mda::LoadMessage(*agent.queue, &m);
  std::vector<ipc::DeliveryResult> out;
  for (const ipc::DeliveryRecipient& r : req.recipients) {
    Verdict v = why.empty() ? Recipient(agent, m, r) : Verdict::Defer("4.3.0", why);
    mda::LogDelivery(m, r.address, mda::OriginalRecipient(r), agent.settings.service, started, v);
    out.push_back(mda::ResultOf(r.envelope_id, v, agent.settings.service));
  }
  return out;
}

Result<Settings> Settings::Load(const config::Config& cfg, const std::string& service) {
  Settings s;
  s.service = service;
  for (auto [name, out] : {std::pair{"queue_directory", &s.queue_directory}, std::pair{"myhostname", &s.myhostname},
                           std::pair{"recipient_delimiter", &s.recipient_delimiter},
                           std::pair{"virtual_mailbox_base", &s.mailbox_base}}) {
    auto v = cfg.Get(name);
    if (!v) return Err(v.error());
    *out = std::move(*v);
  }
  if (s.mailbox_base.empty()) return Err("virtual_mailbox_base: must name the directory of the mailboxes");
  if (s.mailbox_base[0] != '/')
    return Err("do not specify relative pathname: virtual_mailbox_base = " + s.mailbox_base);
  for (auto [name, out] : {std::pair{"virtual_mailbox_maps", &s.mailbox_maps},
                           std::pair{"virtual_uid_maps", &s.uid_maps}, std::pair{"virtual_gid_maps", &s.gid_maps}}) {
    auto v = cfg.GetTables(name);
    if (!v) return Err(std::string(name) + ": " + v.error());
    *out = std::move(*v);
  }
  auto min = cfg.GetInt("virtual_minimum_uid");
  if (!min) return Err(min.error());
  if (*min < 1) return Err("virtual_minimum_uid: must be at least 1");
  s.minimum_uid = *min;
  auto limit = cfg.GetSize("virtual_mailbox_limit");
  if (!limit) return Err(limit.error());
  auto message = cfg.GetSize("message_size_limit");
  if (!message) return Err(message.error());
  // As Postfix: a mailbox must hold the largest message.
  if (*limit && (*limit < *message || *message == 0))
    return Err("main.cf configuration error: virtual_mailbox_limit is smaller than message_size_limit");
  s.mailbox_limit = *limit;
  auto names = cfg.GetList("virtual_mailbox_lock");
  if (!names) return Err(names.error());
  auto locks = mda::ParseMboxLocks(*names, "virtual_mailbox_lock");
  if (!locks) return Err(locks.error());
  s.locks = *locks;
  return s;
}

}  // namespace postern::virt
