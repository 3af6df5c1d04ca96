// tests/fuzz/check.h — the fuzz targets' assertion: an invariant that fails
// aborts, which libFuzzer reports as a finding with the input that did it.
#pragma once

#include <cstdlib>

namespace postern::fuzz {

inline void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace postern::fuzz
