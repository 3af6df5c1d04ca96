// config/compat.h — what postern knows of Postfix beyond its own registry:
// restriction names, table types, parameters and master.cf daemons that
// Postfix has and postern supports, lacks yet, or does not need.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "postern/config/mastercf.h"

namespace postern::config {

// One name of an smtpd_*_restrictions list.
enum class RestrictionSupport {
  kSupported,    // postern evaluates it
  kUnsupported,  // a Postfix restriction postern does not have yet
  kUnknown,      // neither postern's nor Postfix's
};
struct RestrictionInfo {
  RestrictionSupport support = RestrictionSupport::kUnknown;
  bool takes_argument = false;  // the next word belongs to it (a table, a service, a DNS domain)
};
RestrictionInfo LookupRestriction(std::string_view name);
// reject_rbl_client, reject_rhsbl_*, permit_dnswl_client, permit_rhswl_client:
// their argument is a DNS list domain[=filter], not a table.
bool IsDnsListRestriction(std::string_view name);

// The type part of a type:name table reference.
enum class TableSupport { kSupported, kUnsupported, kUnknown };
TableSupport LookupTableType(std::string_view type);

// The table types postern opens, sorted (postconf -m): hash, btree and dbm
// among them, as aliases of lmdb.
std::span<const std::string_view> SupportedTableTypes();

// The mailbox locks local(8) takes (mailbox_delivery_lock; postconf -l).
std::span<const std::string_view> MailboxLockTypes();

// hash, btree and dbm name Postfix's default database types; postern keeps
// those tables in LMDB, so the three mean lmdb. Any other type is returned as is.
std::string_view CanonicalTableType(std::string_view type);

// A Postfix main.cf parameter that postern does not have yet: the feature it
// belongs to, for check's warning. nullptr for any other name.
const char* UnsupportedParameter(std::string_view name);

// A Postfix daemon named in a stock master.cf. `equivalent` is postern's
// program for it (empty: none; the service is recognised and not started),
// `note` why nothing is started.
struct PostfixDaemon {
  std::string_view command;
  std::string_view equivalent;
  std::string_view note;
};
const PostfixDaemon* FindPostfixDaemon(std::string_view command);

// What master does with one master.cf service: run it (its command mapped to
// postern's equivalent), or skip it with a note because it names a Postfix
// daemon that postern does not need or lacks.
struct ServicePlan {
  bool run = true;
  MasterService def;  // command replaced by postern's equivalent
  std::string note;   // why it is not started
};
ServicePlan PlanService(const MasterService& def);

}  // namespace postern::config
