// config/compat_test.cc — Postfix names postern knows, lacks or ignores, and
// how `postern check` classifies a configuration that uses them.
#include "postern/config/compat.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "postern/config/audit.h"
#include "postern/config/maincf.h"

namespace postern::config {
namespace {

TEST(Compat, Restrictions) {
  EXPECT_EQ(LookupRestriction("permit_mynetworks").support, RestrictionSupport::kSupported);
  EXPECT_FALSE(LookupRestriction("permit_mynetworks").takes_argument);
  EXPECT_TRUE(LookupRestriction("check_client_access").takes_argument);
  EXPECT_EQ(LookupRestriction("check_ccert_access").support, RestrictionSupport::kUnsupported);
  EXPECT_EQ(LookupRestriction("check_client_mx_access").support, RestrictionSupport::kSupported);
  EXPECT_TRUE(IsDnsListRestriction("reject_rbl"));
  EXPECT_FALSE(LookupRestriction("reject_maps_rbl").takes_argument);
  EXPECT_EQ(LookupRestriction("reject_rbl_client").support, RestrictionSupport::kSupported);
  EXPECT_TRUE(LookupRestriction("check_policy_service").takes_argument);
  EXPECT_EQ(LookupRestriction("check_policy_service").support, RestrictionSupport::kSupported);
  EXPECT_FALSE(LookupRestriction("reject_unknown_sender_domain").takes_argument);
  EXPECT_EQ(LookupRestriction("permit_everyone").support, RestrictionSupport::kUnknown);
}

TEST(Compat, TableTypes) {
  EXPECT_EQ(LookupTableType("lmdb"), TableSupport::kSupported);
  EXPECT_EQ(LookupTableType("hash"), TableSupport::kSupported);
  EXPECT_EQ(LookupTableType("pcre"), TableSupport::kSupported);
  EXPECT_EQ(LookupTableType("regexp"), TableSupport::kSupported);
  EXPECT_EQ(LookupTableType("mysql"), TableSupport::kUnsupported);
  EXPECT_EQ(LookupTableType("nosuch"), TableSupport::kUnknown);
  for (const char* t : {"hash", "btree", "dbm"}) EXPECT_EQ(CanonicalTableType(t), "lmdb") << t;
  EXPECT_EQ(CanonicalTableType("cidr"), "cidr");
  auto ref = ParseTableRef("hash:/etc/aliases");
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->type, "lmdb");
  EXPECT_EQ(ref->name, "/etc/aliases");
}

TEST(Compat, StockMasterServices) {
  MasterService cleanup{.service = "cleanup", .type = "unix", .command = "cleanup"};
  auto p = PlanService(cleanup);
  EXPECT_FALSE(p.run);
  EXPECT_NE(p.note.find("cleanup"), std::string::npos);
  MasterService oqmgr{.service = "qmgr", .type = "unix", .command = "oqmgr"};
  p = PlanService(oqmgr);
  EXPECT_TRUE(p.run);
  EXPECT_EQ(p.def.command, "qmgr");
  MasterService smtpd{.service = "smtp", .type = "inet", .command = "smtpd"};
  p = PlanService(smtpd);
  EXPECT_TRUE(p.run);
  EXPECT_EQ(p.def.command, "smtpd");
}

TEST(Compat, MydomainFollowsMyhostname) {
  auto c = Config::Parse("myhostname = mail.example.com\n");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->Str("mydomain"), "example.com");
  EXPECT_EQ(c->Str("mydestination"), "mail.example.com, localhost.example.com, localhost");
  c = Config::Parse("myhostname = mail.example.com\nmydomain = other.test\n");
  EXPECT_EQ(c->Str("mydomain"), "other.test");
  c = Config::Parse("myhostname = bare\n");
  EXPECT_EQ(c->Str("mydomain"), "localdomain");
}

int Count(const std::vector<Finding>& f, bool warning, std::string_view text) {
  return int(std::count_if(f.begin(), f.end(), [&](const Finding& x) {
    return x.warning == warning && x.text.find(text) != std::string::npos;
  }));
}

TEST(Compat, AuditClassifies) {
  auto c = Config::Parse(
      "smtpd_recipient_restrictions = permit_mynetworks, check_ccert_access zen.example, permit_everyone, "
      "check_recipient_access mysql:/x, check_sender_access nosuch:/y\n"
      "transport_maps = ldap:/etc/x\nalias_maps = hash:/etc/aliases\ndefault_database_type = hash\n");
  ASSERT_TRUE(c.ok());
  auto f = AuditCompat(*c);
  EXPECT_EQ(Count(f, true, "check_ccert_access is not supported"), 1);
  EXPECT_EQ(Count(f, false, "unknown restriction \"permit_everyone\""), 1);
  EXPECT_EQ(Count(f, true, "mysql: tables are not supported"), 1);
  EXPECT_EQ(Count(f, false, "unknown table type \"nosuch\""), 1);
  EXPECT_EQ(Count(f, false, "transport_maps: ldap:/etc/x: ldap: tables are not supported"), 1);
  EXPECT_EQ(f.size(), 5u);
  // zen.example is check_ccert_access's argument, not a restriction.
  EXPECT_EQ(Count(f, false, "zen.example"), 0);
  // Only the parameters asked for.
  EXPECT_TRUE(AuditCompat(*c, [](std::string_view n) { return n == "smtpd_client_restrictions"; }).empty());
  // A DNS list's argument is a domain, not a table.
  c = Config::Parse("smtpd_client_restrictions = reject_rbl_client zen.example=127.0.0.[2..4], "
                    "permit_dnswl_client list.example, reject_rhsbl_sender\n");
  f = AuditCompat(*c);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].text, "smtpd_client_restrictions: reject_rhsbl_sender needs a DNS list domain");
  EXPECT_TRUE(IsDnsListRestriction("permit_rhswl_client"));
  EXPECT_FALSE(IsDnsListRestriction("check_client_access"));
  c = Config::Parse("default_database_type = pcre\n");
  EXPECT_EQ(Count(AuditCompat(*c), false, "default_database_type"), 1);
}

TEST(Compat, ContentGreylistKeyOutsideEndOfDataIsAnError) {
  auto c = Config::Parse("greylist_key = client_network, sender, content\n"
                         "smtpd_recipient_restrictions = reject_unauth_destination, check_greylist\n");
  ASSERT_TRUE(c.ok());
  auto f = AuditCompat(*c);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_FALSE(f[0].warning);
  EXPECT_EQ(f[0].text, "smtpd_recipient_restrictions: check_greylist with content in greylist_key works only in "
                       "smtpd_end_of_data_restrictions (smtpd answers 451 4.3.5 where it is reached)");
  c = Config::Parse("greylist_key = client_network, sender, content\n"
                    "smtpd_end_of_data_restrictions = check_greylist\n"
                    "smtpd_data_restrictions = reject_unauth_pipelining, reject_multi_recipient_bounce\n");
  EXPECT_TRUE(AuditCompat(*c).empty());
  c = Config::Parse("smtpd_data_restrictions = check_greylist\n");  // without content: anywhere
  EXPECT_TRUE(AuditCompat(*c).empty());
}

TEST(Compat, MissingAliasDatabaseNamesTheCommandThatBuildsIt) {
  std::string dir = ::testing::TempDir() + "/audit_aliases";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto c = Config::Parse("alias_maps = hash:" + dir + "/aliases, lmdb:" + dir + "/other, texthash:" + dir +
                         "/t\nalias_database = hash:" + dir + "/aliases\n");
  ASSERT_TRUE(c.ok());
  auto f = AuditAliasDatabases(*c, " -c /x");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(Count(f, true, "alias_maps: lmdb:" + dir + "/aliases: alias database " + dir +
                               "/aliases.lmdb does not exist; mail to local recipients is deferred (451 4.3.0) "
                               "until it does: create " + dir + "/aliases (see aliases(5)), then run \"newaliases -c /x\""),
            1);
  EXPECT_EQ(Count(f, true, "run \"postalias -c /x lmdb:" + dir + "/other\""), 1);
  // The source exists: only the build is missing; once built, nothing to say.
  std::ofstream(dir + "/aliases") << "postmaster: root\n";
  std::ofstream(dir + "/other.lmdb") << "";
  f = AuditAliasDatabases(*c);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(Count(f, true, "does not exist; mail to local recipients is deferred (451 4.3.0) until it does: run \"newaliases\""), 1);
  std::filesystem::remove_all(dir);
}

TEST(Compat, UnsupportedParametersNameTheFeature) {
  auto c = Config::Parse("relocated_maps = hash:/etc/postfix/relocated\nbiff = no\nno_such_thing = 1\n");
  ASSERT_TRUE(c.ok());
  auto problems = c->Validate();
  ASSERT_EQ(problems.size(), 2u);  // biff: a known no-op, no word about it
  EXPECT_TRUE(problems[0].warning);
  EXPECT_NE(problems[0].text.find("relocated_maps: relocated(5) tables"), std::string::npos) << problems[0].text;
  EXPECT_NE(problems[1].text.find("unused parameter: no_such_thing"), std::string::npos);
}

}  // namespace
}  // namespace postern::config
