// tests/fuzz/fuzz_smtp_address.cc — libFuzzer target for RFC 5321 paths,
// local-part quoting and xtext: parse, then check canonical forms round-trip.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "postern/smtp/address.h"
#include "postern/smtp/esmtp.h"
#include "tests/fuzz/check.h"

using namespace postern::smtp;
using postern::fuzz::Check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  PathOptions opt;
  opt.smtputf8 = data[0] & 1;
  opt.allow_null = data[0] & 2;
  opt.allow_bare_local = data[0] & 4;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);

  auto a = ParsePath(in, opt);
  if (a) {
    Check(!a->utf8 || opt.smtputf8);
    Check(a->null || a->local.size() <= kMaxLocalPart);
    Check(a->domain.size() <= kMaxDomain);
    (void)HasRoutingChars(a->local);
    if (!a->null) {
      std::string canon = a->Canonical();
      auto again = ParseMailbox(canon, opt);
      Check(again.ok() && again->local == a->local && again->domain == a->domain);
      Check(again->Canonical() == canon);
    }
  }
  (void)IsValidDomain(in, opt.smtputf8);
  (void)IsValidAddressLiteral(in);

  // Quoting any octet string gives something that decodes back to it,
  // provided the octets are legal in a quoted string at all.
  std::string quoted = QuoteLocalPart(in);
  Check(!quoted.empty());

  std::string x = XtextEncode(in);
  auto raw = XtextDecode(x);
  Check(raw.ok() && *raw == in);
  auto d = XtextDecode(in);
  if (d) Check(XtextDecode(XtextEncode(*d)).value() == *d);
  return 0;
}
