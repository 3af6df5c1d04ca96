// tests/fuzz/fuzz_table_cidr.cc — libFuzzer target for cidr_table(5): rule
// parsing (if/endif nesting, negation, brackets, prefixes) and matching.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "postern/table/cidr.h"

using postern::table::CidrRules;
using postern::table::ParseNetwork;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> warnings;
  CidrRules rules = CidrRules::Parse(text, "fuzz", &warnings);
  static const char* kProbes[] = {"10.1.2.3", "0.0.0.0", "255.255.255.255", "::1",
                                  "2001:db8::1", "[::ffff:1.2.3.4]", "not-an-address"};
  for (const char* p : kProbes) (void)rules.Match(p);
  // The first word used as a pattern and as an address must not crash either,
  // and a network that parses must contain its own address.
  std::string_view word = text.substr(0, text.find_first_of(" \t\n"));
  std::string why;
  auto net = ParseNetwork(word, &why);
  if (net && !postern::table::NetworkContains(*net, *net)) abort();
  (void)rules.Match(word);
  return 0;
}
