// tests/fuzz/fuzz_maincf.cc — libFuzzer target for main.cf: parsing, $name
// expansion (loops, nesting, ${name?{a}:{b}}), validation and postconf's edits.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "postern/config/maincf.h"
#include "postern/config/maincf_edit.h"

using postern::config::Config;
using postern::config::EditMainCf;
using postern::config::MainEditOp;

namespace {

// A fixed configuration that arbitrary text is expanded against.
const Config& Base() {
  static const Config cfg = *Config::Parse(
      "a = $b\nb = ${c?{x$a}:{y}}\nc = 1\nloop = ${loop:z}$loop\nempty =\n"
      "mydomain = example.test\nmyorigin = $(mydomain)\n");
  return cfg;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto cfg = Config::Parse(text);
  if (cfg) {
    // A few names suffice to reach every expansion path; all of them would
    // make each run as slow as the expansion budget allows times the file's lines.
    size_t n = 0;
    for (const auto& a : cfg->assignments())
      if (n++ < 8) (void)cfg->Get(a.name);
    (void)cfg->Validate();
  }
  (void)Base().Expand(text);

  // An edit of a file that parsed must leave one that parses (EditMainCf
  // promises to refuse otherwise) and must keep every comment line.
  static const MainEditOp kOps[] = {MainEditOp::kSet, MainEditOp::kDelete, MainEditOp::kComment};
  std::string name = cfg && !cfg->assignments().empty() ? cfg->assignments()[0].name : "myhostname";
  for (MainEditOp op : kOps) {
    auto r = EditMainCf(text, op, {{name, "mx.example.test"}, {"zzz_new", "1"}});
    if (cfg && !r) abort();
    if (cfg && r && !Config::Parse(r->text).ok()) abort();
  }
  return 0;
}
