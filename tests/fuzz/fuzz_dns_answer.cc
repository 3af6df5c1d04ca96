// tests/fuzz/fuzz_dns_answer.cc — raw DNS answers into every lib/dns parser:
// the hand-written TLSA parser and postern's use of c-ares' parsers (MX, TXT,
// PTR, A, AAAA), plus header status mapping and name syntax checks.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "postern/dns/answer.h"

using namespace postern::dns;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> msg(data, size);
  (void)StatusFromHeader(msg);
  (void)IsAuthentic(msg);
  auto tlsa = ParseTlsa(msg);
  for (const auto& t : tlsa.records) (void)t.DataHex();
  auto mx = ParseMx(msg);
  if (mx.status == Status::kOk) {
    (void)IsNullMx(mx.records);
    std::mt19937 rng(1);
    (void)OrderMx(mx.records, rng);
  }
  (void)ParseTxt(msg);
  (void)ParseA(msg);
  (void)ParseAaaa(msg);
  (void)ParsePtr(msg, *IpAddress::Parse("192.0.2.1"));
  (void)ParsePtr(msg, *IpAddress::Parse("2001:db8::1"));
  (void)NormalizeName(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
