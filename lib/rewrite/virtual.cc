// rewrite/virtual.cc — virtual_alias_maps expansion; see virtual.h for the
// rules (Postfix's virtual(5) lookup order, recursion and expansion limits).
#include "postern/rewrite/virtual.h"

#include <algorithm>

#include "postern/config/maincf.h"
#include "postern/table/surrogate.h"
#include "postern/util/strings.h"

namespace postern::rewrite {

namespace {

bool SameAddress(std::string_view a, std::string_view b) { return EqualsIgnoreCase(a, b); }

}  // namespace

// The queue keeps ORCPT decoded ("type;address"); the smtp client encodes it
// as xtext on the wire.
std::string OrcptFor(std::string_view address) { return "rfc822;" + std::string(address); }

Result<VirtualAliases> VirtualAliases::FromConfig(const config::Config& cfg) {
  VirtualSettings s;
  auto refs = cfg.GetTables("virtual_alias_maps");
  if (!refs) return Err("virtual_alias_maps: " + refs.error());
  // As Postfix: a table that does not open defers the mail that needs it.
  table::TableList maps = table::OpenListOrSurrogates("virtual_alias_maps", *refs);
  auto map = MapSettings::FromConfig(cfg, "virtual");
  if (!map) return Err(map.error());
  static_cast<MapSettings&>(s) = std::move(*map);
  for (auto [name, field] : {std::pair{"virtual_alias_recursion_limit", &s.recursion_limit},
                             std::pair{"virtual_alias_expansion_limit", &s.expansion_limit}}) {
    auto v = cfg.GetInt(name);
    if (!v) return Err(std::string(name) + ": " + v.error());
    if (*v < 1) return Err(std::string(name) + ": must be at least 1");
    *field = static_cast<size_t>(*v);
  }
  return VirtualAliases(std::move(s), std::move(maps));
}

Result<void> VirtualAliases::Walk(const std::string& address, size_t depth, std::vector<std::string>* stack,
                                  std::vector<std::string>* out) {
  auto keep = [&]() -> Result<void> {
    for (const std::string& o : *out) {
      if (SameAddress(o, address)) return {};
    }
    if (out->size() >= s_.expansion_limit)
      return Err("unreasonable virtual_alias_maps map expansion size for " + top_);
    out->push_back(address);
    return {};
  };
  // An address already being expanded closes a loop: it is delivered as it is.
  for (const std::string& s : *stack) {
    if (SameAddress(s, address)) return keep();
  }
  if (depth > s_.recursion_limit)
    return Err("unreasonable virtual_alias_maps map nesting for " + top_);
  auto found = LookupAddressMap(maps_, s_, address);
  if (!found) return Err(found.error());
  if (!*found) return keep();
  stack->push_back(address);
  for (const std::string& next : **found) {
    Result<void> r = SameAddress(next, address) ? keep() : Walk(next, depth + 1, stack, out);
    if (!r) return r;
  }
  stack->pop_back();
  return {};
}

Result<std::vector<std::string>> VirtualAliases::Expand(std::string_view address) {
  std::vector<std::string> out;
  if (maps_.empty()) {
    out.emplace_back(address);
    return out;
  }
  std::vector<std::string> stack;
  top_ = std::string(address);
  if (auto r = Walk(top_, 0, &stack, &out); !r) return Err(r.error());
  return out;
}

}  // namespace postern::rewrite
