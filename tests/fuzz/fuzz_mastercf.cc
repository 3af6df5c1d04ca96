// tests/fuzz/fuzz_mastercf.cc — libFuzzer target for master.cf: parsing, the
// -M formatting (which must parse back to the same service) and -F/-P edits.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "postern/config/mastercf.h"
#include "postern/config/mastercf_edit.h"

using namespace postern::config;

namespace {

// FormatMasterLine's output, folded or not, reads back as the same service.
void CheckRoundTrip(const MasterService& s) {
  for (bool fold : {false, true}) {
    auto again = ParseMasterCf(FormatMasterLine(s, fold));
    if (!again || again->size() != 1) abort();
    const MasterService& t = (*again)[0];
    if (t.fields != s.fields || t.args != s.args || t.overrides != s.overrides) abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto services = ParseMasterCf(text);
  if (!services) return 0;
  for (const MasterService& s : *services) {
    CheckRoundTrip(s);
    for (size_t i = 0; i < kMasterFieldNames.size(); ++i) (void)MasterFieldValue(s, i);
  }
  if (services->empty()) return 0;
  const std::string key = (*services)[0].Key();
  const std::pair<MasterEditOp, std::string> requests[] = {
      {MasterEditOp::kSetParam, key + "/smtpd_banner=hello world"},
      {MasterEditOp::kDeleteParam, key + "/syslog_name"},
      {MasterEditOp::kSetField, key + "/process_limit=7"},
      {MasterEditOp::kCommentEntry, key},
      {MasterEditOp::kDeleteEntry, key},
  };
  for (const auto& [op, arg] : requests) {
    auto e = ParseMasterEdit(arg, op);
    if (!e) continue;  // a service name with '/' or '=' cannot be addressed
    auto r = EditMasterCf(text, {*e});
    if (r && !ParseMasterCf(r->text).ok()) abort();
  }
  return 0;
}
