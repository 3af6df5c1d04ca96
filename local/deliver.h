// local/deliver.h — delivery of one recipient, Postfix's local(8) order:
// Delivered-To loop check, alias_maps (with owner- aliases), the user's
// .forward files, then mailbox_transport (handed to that transport),
// mailbox_command, home_mailbox (mbox or Maildir/) or
// the spool mbox. Expansions recurse; addresses that are not delivered here
// are collected and re-submitted as new messages (Forwarder).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "local/expand.h"
#include "local/settings.h"
#include "postern/cleanup/cleanup.h"
#include "postern/ipc/delivery.h"
#include "postern/mda/mailbox.h"
#include "postern/mda/message.h"
#include "postern/mda/privs.h"
#include "postern/mda/verdict.h"
#include "postern/queue/queue.h"
#include "postern/route/route.h"
#include "postern/table/table.h"

namespace postern::local {

// Shared with pipe(8) and virtual(8) (lib/mda).
using mda::AppendMbox;
using mda::CopyOptions;
using mda::Creds;
using mda::EffectiveUser;
using mda::LoadMessage;
using mda::FormatCopy;
using mda::Message;
using mda::MboxLocks;
using mda::Privileged;
using mda::UserById;
using mda::UserByName;
using mda::Verdict;
using mda::WriteMaildir;

// What lives as long as the worker.
struct Agent {
  Settings settings;
  std::vector<std::unique_ptr<table::Table>> aliases;  // alias_maps, in order
  std::vector<std::optional<uid_t>> alias_owners;  // per alias_maps entry: its file's owner
  std::unique_ptr<route::Router> router;
  std::unique_ptr<queue::Queue> queue;
  std::unique_ptr<cleanup::Cleanup> cleanup;  // forwarded mail goes in through it; uses queue
  std::optional<Creds> default_privs;  // when privileged
};

// One recipient of the request, start to end: logs one line per final
// delivery and returns the recipient's overall result.
class RecipientDelivery {
 public:
  RecipientDelivery(Agent& agent, Message& msg, const ipc::DeliveryRecipient& rcpt,
                    std::chrono::steady_clock::time_point started);
  ipc::DeliveryResult Run();

 private:
  enum class Exp { kNone, kAlias, kForward, kInclude };
  // One level of the expansion (Postfix's msg_attr and usr_attr).
  struct Attr {
    std::string recipient;   // the address at this level
    std::string delivered;   // for Delivered-To:
    std::string owner;       // sender of forwarded mail; "" = the message's sender
    std::string exp_from;    // the alias being expanded
    Exp exp = Exp::kNone;
    std::optional<Creds> rights;  // for |command and /file at this level
    std::string unmatched;   // extension to pass on to expansions
    int level = 0;
  };
  struct Pending {  // an address waiting to be re-submitted
    Attr attr;
    std::string address;
  };

  Verdict Recipient(Attr a);
  Verdict Switch(Attr& a, const std::string& local, const std::string& user, const std::string& ext,
                 const std::string& domain);
  bool Alias(Attr& a, const std::string& name, Verdict* v);
  bool DotForward(Attr& a, const Creds& pw, const std::string& local, const std::string& ext,
                  const std::string& domain, Verdict* v);
  Verdict Mailbox(Attr& a, const std::string& user);
  Verdict Pass(Attr& a);  // mailbox_transport (pass.cc)
  Verdict Tokens(Attr& a, std::string_view text, const char* origin);
  Verdict Token(Attr& a, const Destination& d);
  Verdict Address(Attr& a, std::string address);
  Verdict Command(Attr& a, const std::string& command, std::optional<Creds> as, const std::string& cwd);
  Verdict File(Attr& a, const std::string& path);
  Verdict ToPath(const std::string& path, const std::optional<Creds>& rights, CopyOptions o, bool dotlock,
                 const std::string& mbox_text);
  Verdict Include(Attr& a, const std::string& path);
  Verdict Indirect(Attr& a);
  Verdict Final(const Attr& a, Verdict v);  // logs and merges one final delivery
  void Merge(const Verdict& v);              // merges one without a log line (Pass)
  void Flush();                             // re-submits the pending addresses
  std::vector<std::string> Environment(const Attr& a, const Creds* pw) const;
  std::optional<Creds> Rights(std::optional<Creds> c) const;

  Agent& agent_;
  const Settings& s_;
  Message& msg_;
  const ipc::DeliveryRecipient& rcpt_;
  std::string orig_;  // the recipient as first received (for orig_to=)
  std::chrono::steady_clock::time_point started_;
  std::set<std::string> seen_;  // duplicate filter: "kind what"
  std::vector<Pending> pending_;
  std::optional<Verdict> worst_;
  std::string relay_ = "local";  // the other transport when Pass() delivered
  size_t finals_ = 0;
};

}  // namespace postern::local
