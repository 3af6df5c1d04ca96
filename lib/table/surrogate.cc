// table/surrogate.cc — opening a parameter's tables so that one that does not
// open fails its lookups (the caller defers) instead of stopping the program.
#include "postern/table/surrogate.h"

#include "postern/log/log.h"

namespace postern::table {

std::unique_ptr<Table> OpenOrSurrogate(std::string_view param, const config::TableRef& ref, const Options& o) {
  auto t = Open(ref, o);
  if (t) return std::move(*t);
  log::Warning("{}: {}; lookups in it fail (mail that needs it is deferred) until it is fixed", param, t.error());
  // Lookup errors are logged after the table's name: drop it from the reason.
  std::string why = t.error(), name = ref.ToString();
  if (why.starts_with(name + ": ")) why.erase(0, name.size() + 2);
  return std::make_unique<Surrogate>(name, why);
}

TableList OpenListOrSurrogates(std::string_view param, const std::vector<config::TableRef>& refs, const Options& o) {
  TableList list;
  for (const config::TableRef& ref : refs) list.Add(OpenOrSurrogate(param, ref, o));
  return list;
}

}  // namespace postern::table
