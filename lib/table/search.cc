// table/search.cc — access(5) search orders over a TableList: which keys an
// address, a domain or a client is looked up as, and in what order.
#include <string>

#include "postern/table/table.h"
#include "postern/util/strings.h"

namespace postern::table {

namespace {

// Looks up each key in turn; the first hit (or error) ends the search.
class Search {
 public:
  explicit Search(TableList& list) : list_(list) {}
  // partial: a key derived from the whole one, which pattern tables never see.
  bool Try(std::string_view key, bool partial = true) {
    if (key.empty()) return false;
    result_ = list_.Lookup(key, partial);
    return !result_.ok() || result_->has_value();
  }
  LookupResult Take() { return std::move(result_); }

 private:
  TableList& list_;
  LookupResult result_ = std::optional<std::string>();
};

bool TryDomain(Search& s, std::string_view domain, bool parent_matches) {
  if (domain.empty()) return false;
  if (s.Try(domain, false)) return true;
  // An address literal has no parents.
  if (domain.front() == '[') return false;
  for (size_t dot = domain.find('.', 1); dot != std::string_view::npos;
       dot = domain.find('.', dot + 1)) {
    std::string_view parent = parent_matches ? domain.substr(dot + 1) : domain.substr(dot);
    if (!parent.empty() && parent != "." && s.Try(parent)) return true;
  }
  return false;
}

}  // namespace

LookupResult LookupDomain(TableList& list, std::string_view domain, bool parent_matches) {
  Search s(list);
  TryDomain(s, domain, parent_matches);
  return s.Take();
}

LookupResult LookupAddress(TableList& list, std::string_view address,
                           const AddressSearch& search) {
  Search s(list);
  size_t at = address.rfind('@');
  std::string_view local = at == std::string_view::npos ? address : address.substr(0, at);
  std::string_view domain = at == std::string_view::npos ? std::string_view() : address.substr(at + 1);
  // user+ext -> user, cut at the first delimiter character present.
  std::string_view bare_local;
  if (!search.delimiters.empty()) {
    size_t d = local.find_first_of(search.delimiters);
    if (d != std::string_view::npos && d > 0) bare_local = local.substr(0, d);
  }
  std::string at_domain = domain.empty() ? std::string() : "@" + std::string(domain);
  if (s.Try(address, false)) return s.Take();
  if (!bare_local.empty() && !domain.empty() && s.Try(std::string(bare_local) + at_domain))
    return s.Take();
  if (TryDomain(s, domain, search.parent_matches_subdomains)) return s.Take();
  if (!local.empty() && s.Try(std::string(local) + "@")) return s.Take();
  if (!bare_local.empty()) s.Try(std::string(bare_local) + "@");
  return s.Take();
}

LookupResult LookupClient(TableList& list, std::string_view name, std::string_view addr,
                          bool parent_matches) {
  Search s(list);
  if (!name.empty() && !EqualsIgnoreCase(name, "unknown") && TryDomain(s, name, parent_matches))
    return s.Take();
  char delim = addr.find(':') != std::string_view::npos ? ':' : '.';
  std::string_view a = addr;
  while (!a.empty()) {
    if (s.Try(a, a.size() < addr.size())) return s.Take();
    size_t cut = a.rfind(delim);
    if (cut == std::string_view::npos) break;
    a = a.substr(0, cut);
  }
  return s.Take();
}

}  // namespace postern::table
