// tests/fuzz/fuzz_table_source.cc — libFuzzer target for the postmap and
// aliases(5) source formats and for inline:{...} table specifications.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "postern/table/source.h"
#include "postern/table/table.h"

namespace table = postern::table;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (table::Syntax syntax : {table::Syntax::kMap, table::Syntax::kAlias}) {
    auto parsed = table::ParseSource(text, "fuzz", syntax, true);
    if (!parsed) continue;
    // Every key that survives parsing is one a table can store, in lower case.
    for (const table::Entry& e : parsed->entries) {
      if (e.key.empty() || e.key.size() > table::kMaxKeyLength) abort();
      for (char c : e.key)
        if (c >= 'A' && c <= 'Z') abort();
    }
    table::ResolveDuplicates(&parsed->entries, table::Duplicates::kWarn, "fuzz", &parsed->warnings);
  }
  auto t = table::Open("inline:{" + std::string(text) + "}");
  if (t) (void)(*t)->Lookup(text.substr(0, text.find('=')));
  return 0;
}
