// smtp/generic.cc — smtp_generic_maps; see generic.h.
#include "smtp/generic.h"

#include "postern/config/maincf.h"
#include "postern/log/log.h"
#include "postern/rewrite/header_address.h"
#include "smtp/settings.h"

namespace postern::smtp_client {

Result<Generic> Generic::Load(const config::Config& cfg, bool lmtp) {
  auto map = rewrite::AddressMap::FromConfig(cfg, ParamName(lmtp, "smtp_generic_maps"), "generic");
  if (!map) return Err(map.error());
  return Generic(std::move(*map));
}

Result<std::string> Generic::Address(std::string_view a) const {
  if (a.empty()) return std::string();
  return map_.Map(a);
}

void Generic::Header(std::string* header, bool* failed) const {
  auto r = rewrite::RewriteAddressHeader(
      header, [](rewrite::AddressClass) { return true; },
      [this](std::string_view a, rewrite::AddressClass) { return map_.Map(a); });
  if (!r) {
    log::Warning("{}", r.error());
    *failed = true;
  }
}

}  // namespace postern::smtp_client
