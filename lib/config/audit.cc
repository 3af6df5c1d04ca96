// config/audit.cc — classifies restriction names and table types of a
// configuration for `postern check`; see audit.h and compat.h.
#include "postern/config/audit.h"

#include <sys/stat.h>

#include <algorithm>

#include "postern/config/compat.h"
#include "postern/util/strings.h"

namespace postern::config {

namespace {

constexpr std::string_view kRestrictionLists[] = {
    "smtpd_client_restrictions", "smtpd_helo_restrictions", "smtpd_sender_restrictions",
    "smtpd_relay_restrictions", "smtpd_recipient_restrictions", "smtpd_data_restrictions",
    "smtpd_end_of_data_restrictions",
};

constexpr std::string_view kOurTables = "lmdb: (hash:, btree:, dbm:), texthash:, cidr:, regexp:, pcre:, inline:, static:, unix:";

// in_restriction: smtpd refuses per session (451 4.3.5) what it cannot open,
// so an unsupported type there is a warning; elsewhere the program fails.
void AuditTable(std::string_view param, const TableRef* ref, bool in_restriction, std::vector<Finding>* out) {
  std::string where = std::string(param) + ": " + ref->ToString() + ": ";
  switch (LookupTableType(ref->type)) {
    case TableSupport::kSupported: return;
    case TableSupport::kUnknown:
      return out->push_back({false, where + "unknown table type \"" + ref->type + "\" (postern has " +
                                        std::string(kOurTables) + ")"});
    case TableSupport::kUnsupported:
      if (in_restriction)
        return out->push_back({true, where + ref->type + ": tables are not supported by postern yet; smtpd "
                                             "answers 451 4.3.5 where this entry is reached"});
      return out->push_back({false, where + ref->type + ": tables are not supported by postern yet (use " +
                                        std::string(kOurTables) + ")"});
  }
}

bool IsClass(const Config& cfg, std::string_view word) {
  for (const std::string& c : cfg.List("smtpd_restriction_classes"))
    if (EqualsIgnoreCase(c, word)) return true;
  return false;
}

void AuditRestrictions(const Config& cfg, std::string_view param, std::vector<Finding>* out) {
  auto words = cfg.GetList(param);
  if (!words) return;
  std::string p(param);
  for (size_t i = 0; i < words->size(); ++i) {
    const std::string& word = (*words)[i];
    RestrictionInfo info = LookupRestriction(ToLower(word));
    if (IsClass(cfg, word)) continue;  // audited as a list of its own
    bool has_arg = info.takes_argument && i + 1 < words->size();
    switch (info.support) {
      case RestrictionSupport::kSupported:
        if (EqualsIgnoreCase(word, "reject_maps_rbl") && cfg.List("maps_rbl_domains").empty())
          out->push_back({false, p + ": reject_maps_rbl needs maps_rbl_domains (smtpd answers 451 4.3.5 where it "
                                     "is reached); better: reject_rbl_client domain"});
        if (!info.takes_argument) break;
        if (IsDnsListRestriction(ToLower(word))) {
          if (!has_arg) out->push_back({false, p + ": " + word + " needs a DNS list domain"});
          else ++i;
          break;
        }
        if (EqualsIgnoreCase(word, "check_policy_service")) {
          if (!has_arg) out->push_back({false, p + ": " + word + " needs a server (inet:host:port or unix:path)"});
          else if (std::string_view a = (*words)[++i]; !StartsWith(a, "inet:") && !StartsWith(a, "unix:") && a.front() != '{')
            out->push_back({false, p + ": " + word + " " + std::string(a) + ": not inet:host:port, unix:path or {...}"});
          break;
        }
        if (!has_arg) out->push_back({false, p + ": " + word + " needs a table"});
        else if (auto ref = ParseTableRef((*words)[++i]); !ref) out->push_back({false, p + ": " + ref.error()});
        else AuditTable(param, &*ref, true, out);
        break;
      case RestrictionSupport::kUnsupported:
        if (has_arg) ++i;
        out->push_back({true, p + ": restriction " + word + " is not supported by postern yet; smtpd answers "
                                  "451 4.3.5 Server configuration error where it is reached"});
        break;
      case RestrictionSupport::kUnknown:
        out->push_back({false, p + ": unknown restriction \"" + word + "\" (smtpd would answer 451 4.3.5 "
                                   "where it is reached; see smtpd(8) for the restrictions postern has)"});
        break;
    }
  }
}

// greylist_key with content: the content exists only after the final dot,
// so check_greylist anywhere but smtpd_end_of_data_restrictions cannot run.
void AuditContentGreylist(const Config& cfg, const std::function<bool(std::string_view)>& only,
                          std::vector<Finding>* out) {
  bool content = false;
  for (const std::string& f : cfg.List("greylist_key")) content |= EqualsIgnoreCase(f, "content");
  if (!content) return;
  std::string where = RestrictionUse(cfg, "check_greylist", [&](std::string_view p) {
    return p != "smtpd_end_of_data_restrictions" && (!only || only(p));
  });
  if (where.empty()) return;
  out->push_back({false, where + ": check_greylist with content in greylist_key works only in "
                                 "smtpd_end_of_data_restrictions (smtpd answers 451 4.3.5 where it is reached)"});
}

}  // namespace

std::string RestrictionUse(const Config& cfg, std::string_view name,
                           const std::function<bool(std::string_view)>& only) {
  std::vector<std::string> params(std::begin(kRestrictionLists), std::end(kRestrictionLists));
  for (const std::string& c : cfg.List("smtpd_restriction_classes")) params.push_back(c);
  for (const std::string& param : params) {
    if (only && !only(param)) continue;
    for (const std::string& word : cfg.List(param))
      if (EqualsIgnoreCase(word, name)) return param;
  }
  return "";
}

std::vector<NamedTable> NamedTables(const Config& cfg) {
  std::vector<NamedTable> out;
  for (std::string_view param : kRestrictionLists) {
    auto words = cfg.GetList(param);
    if (!words) continue;
    for (size_t i = 0; i + 1 < words->size(); ++i) {
      std::string name = ToLower((*words)[i]);
      if (!LookupRestriction(name).takes_argument) continue;
      if (IsDnsListRestriction(name)) {
        ++i;
        continue;
      }
      if (auto ref = ParseTableRef((*words)[++i])) out.push_back({std::string(param), *ref});
    }
  }
  for (const ParamDef& def : Registry()) {
    if (def.type != ParamType::kTables) continue;
    auto refs = cfg.GetTables(def.name);
    if (!refs) continue;
    for (const TableRef& ref : *refs) out.push_back({std::string(def.name), ref});
  }
  return out;
}

std::vector<Finding> AuditCompat(const Config& cfg, const std::function<bool(std::string_view)>& only) {
  std::vector<Finding> out;
  auto wanted = [&](std::string_view name) { return !only || only(name); };
  for (std::string_view param : kRestrictionLists)
    if (wanted(param)) AuditRestrictions(cfg, param, &out);
  for (const std::string& param : cfg.List("smtpd_restriction_classes"))
    if (wanted(param)) AuditRestrictions(cfg, param, &out);
  AuditContentGreylist(cfg, only, &out);
  for (const ParamDef& def : Registry()) {
    if (def.type != ParamType::kTables || !wanted(def.name)) continue;
    auto refs = cfg.GetTables(def.name);
    if (!refs) continue;  // Validate() says why
    for (const TableRef& ref : *refs) AuditTable(def.name, &ref, false, &out);
  }
  if (wanted("smtpd_sasl_type")) {
    std::string t = cfg.Str("smtpd_sasl_type");
    if (t != "postern" && t != "dovecot")
      out.push_back({true, "smtpd_sasl_type: " + t + " is not supported by postern yet (postern, dovecot); "
                           "with smtpd_sasl_auth_enable = yes, AUTH answers 454 4.7.0"});
  }
  if (wanted("default_database_type")) {
    std::string t = cfg.Str("default_database_type");
    std::string_view c = CanonicalTableType(t);
    if (c != "lmdb" && c != "texthash" && c != "cidr")
      out.push_back({false, "default_database_type: \"" + t + "\" is not a file table type postern has (use lmdb; "
                                                            "hash, btree and dbm mean lmdb)"});
  }
  return out;
}

// A warning, not an error: the instance runs, but local delivery defers every
// local recipient ("alias database unavailable") and smtpd's RCPT check
// (local_recipient_maps = $alias_maps) answers 451 4.3.0 until it exists.
std::vector<Finding> AuditAliasDatabases(const Config& cfg, std::string_view config_opt) {
  std::vector<Finding> out;
  auto maps = cfg.GetTables("alias_maps");
  if (!maps) return out;  // Validate() says why
  auto rebuilt = cfg.GetTables("alias_database");
  for (const TableRef& ref : *maps) {
    if (CanonicalTableType(ref.type) != "lmdb" || ref.name.empty()) continue;
    std::string db = ref.name + ".lmdb";
    struct stat st;
    if (stat(db.c_str(), &st) == 0) continue;
    bool by_newaliases = rebuilt && std::any_of(rebuilt->begin(), rebuilt->end(), [&](const TableRef& r) {
      return r.name == ref.name && CanonicalTableType(r.type) == "lmdb";
    });
    std::string fix = by_newaliases ? "newaliases" + std::string(config_opt)
                                    : "postalias" + std::string(config_opt) + " " + ref.ToString();
    std::string create = stat(ref.name.c_str(), &st) == 0 ? "" : "create " + ref.name + " (see aliases(5)), then ";
    out.push_back({true, "alias_maps: " + ref.ToString() + ": alias database " + db +
                             " does not exist; mail to local recipients is deferred (451 4.3.0) until it does: " +
                             create + "run \"" + fix + "\""});
  }
  return out;
}

}  // namespace postern::config
