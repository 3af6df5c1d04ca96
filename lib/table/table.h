// table/table.h — lookup tables (Postfix's type:name maps): the one place that
// opens them. Lookups never throw; an error result means "try again later".
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "postern/config/values.h"
#include "postern/util/result.h"

namespace postern::table {

struct Options {
  // Lower-case lookup keys, as Postfix does for every table unless told not
  // to (postmap -f). Tables built by postmap store lower-case keys.
  bool fold_case = true;
  // File-backed tables (lmdb:, texthash:, cidr:, regexp:, pcre:) stat their file at most this
  // often and reopen it when it was replaced or changed.
  std::chrono::milliseconds recheck{1000};
  // Values are secrets (password maps): `trace lookup` logs "found" without them.
  bool secret = false;
};

// A value that may be missing, or an error when the table could not be read.
using LookupResult = Result<std::optional<std::string>>;

class Table {
 public:
  explicit Table(std::string name, bool secret = false) : name_(std::move(name)), secret_(secret) {}
  virtual ~Table() = default;
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;

  // Under `postern trace lookup`, each lookup is logged with its result.
  LookupResult Lookup(std::string_view key);
  // "type:name", for log lines.
  const std::string& name() const { return name_; }
  // A pattern table (regexp:, pcre:, cidr:) is asked only about whole keys:
  // the access(5) searches skip it for the partial keys they derive (user@,
  // parent domains, address prefixes), as Postfix's DICT_FLAG_PATTERN.
  virtual bool pattern() const { return false; }

 protected:
  // The table type's own search.
  virtual LookupResult Find(std::string_view key) = 0;

 private:
  std::string name_;
  bool secret_;
};

// Opens one table: lmdb:FILE (FILE.lmdb made by postmap), texthash:FILE,
// inline:{ k=v, ... }, static:VALUE, cidr:FILE, regexp:FILE, pcre:FILE,
// unix:passwd.byname.
Result<std::unique_ptr<Table>> Open(const config::TableRef& ref, const Options& options = {});
Result<std::unique_ptr<Table>> Open(std::string_view ref_text, const Options& options = {});

// The tables of one parameter (alias_maps = lmdb:/a, texthash:/b): searched in
// order, the first hit wins; an error in an earlier table stops the search so
// that a broken table never silently changes the answer.
class TableList {
 public:
  TableList() = default;
  static Result<TableList> Open(const std::vector<config::TableRef>& refs,
                                const Options& options = {});
  static Result<TableList> Open(std::string_view list_text, const Options& options = {});

  // A partial key (derived by a search from the whole one) skips pattern tables.
  LookupResult Lookup(std::string_view key, bool partial_key = false);
  bool empty() const { return tables_.empty(); }
  size_t size() const { return tables_.size(); }
  void Add(std::unique_ptr<Table> t) { tables_.push_back(std::move(t)); }

 private:
  std::vector<std::unique_ptr<Table>> tables_;
};

// access(5) search order for an e-mail address: user+ext@domain, user@domain,
// domain and its parents, user+ext@, user@ (pattern tables: the address and
// its domain only). `delimiters` is
// recipient_delimiter (empty: no extensions). With parent_matches_subdomains
// (Postfix's default for smtpd_access_maps) a.b.example falls back to
// b.example and example; without it to .b.example and .example. The null
// address is not special here: look up smtpd_null_access_lookup_key yourself.
struct AddressSearch {
  std::string delimiters;
  bool parent_matches_subdomains = true;
};
LookupResult LookupAddress(TableList& list, std::string_view address,
                           const AddressSearch& search = {});
// The domain part alone, with the same parent rule (check_helo_access etc.).
LookupResult LookupDomain(TableList& list, std::string_view domain,
                          bool parent_matches_subdomains = true);
// access(5) order for a client: its name (unless "unknown") with parent
// domains, then its address and the address's prefixes (1.2.3.4, 1.2.3, 1.2,
// 1; IPv6 cut at ':' from the right).
LookupResult LookupClient(TableList& list, std::string_view name, std::string_view addr,
                          bool parent_matches_subdomains = true);

}  // namespace postern::table
