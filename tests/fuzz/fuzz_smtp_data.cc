// tests/fuzz/fuzz_smtp_data.cc — libFuzzer target for DATA content: dot-stuff
// then decode must give the input back (in canonical CRLF form), and decoding,
// stray-character and header filtering in fuzzer-chosen chunks must match
// doing it whole.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "postern/smtp/data.h"
#include "postern/smtp/filter_test_util.h"
#include "postern/smtp/headers.h"
#include "tests/fuzz/check.h"

using namespace postern::smtp;
using postern::fuzz::Check;

namespace {

struct Run {
  std::string out;
  size_t used = 0;
  bool done = false, bare_lf = false, long_line = false;
  uint64_t size = 0;
};

Run Decode(std::string_view wire, BareLf mode, size_t step) {
  DataDecoder::Options o;
  o.bare_lf = mode;
  o.line_limit = 64;
  DataDecoder d(o);
  Run r;
  for (size_t i = 0; i < wire.size() && !d.done(); i += step) r.used += d.Feed(wire.substr(i, step), &r.out);
  r.done = d.done();
  r.bare_lf = d.saw_bare_lf();
  r.long_line = d.long_line();
  r.size = d.size();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t step = 1 + data[0] % 13;
  BareLf mode = static_cast<BareLf>((data[0] >> 4) % 3);
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);

  // Round trip: stuff in chunks, decode in other chunks.
  DotStuffer s;
  std::string wire;
  for (size_t i = 0; i < in.size(); i += step) s.Feed(in.substr(i, step), &wire);
  s.Finish(&wire);
  Run rt = Decode(wire, mode, 1 + (step * 7) % 11);
  Check(rt.done && rt.used == wire.size() && !rt.bare_lf);
  Check(rt.out == testing::Canonical(in));

  // Raw input: chunking never changes the outcome.
  Run whole = Decode(in, mode, in.size() + 1);
  Run pieces = Decode(in, mode, step);
  Check(whole.out == pieces.out && whole.used == pieces.used && whole.done == pieces.done &&
        whole.bare_lf == pieces.bare_lf && whole.long_line == pieces.long_line);
  Check(whole.size == whole.out.size());
  // End of data is only ever a real CRLF.CRLF (or .CRLF at the very start).
  if (whole.done) {
    std::string_view used = in.substr(0, whole.used);
    Check(used == ".\r\n" || (used.size() >= 5 && used.substr(used.size() - 5) == "\r\n.\r\n"));
  }

  // The stray filter: chunking never matters, and nothing bare or NUL is left.
  StrayFilter s1, s2;
  std::string sa = postern::smtp::testing::Chunked(whole.out, whole.out.size() + 1, &s1);
  std::string sb = postern::smtp::testing::Chunked(whole.out, step, &s2);
  Check(sa == sb && sa.size() == whole.out.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    Check(sa[i] != '\0');
    if (sa[i] == '\r') Check(i + 1 < sa.size() && sa[i + 1] == '\n');
    if (sa[i] == '\n') Check(i > 0 && sa[i - 1] == '\r');
  }

  // The header filter gives the same result in chunks as whole, also when it
  // cuts headers at a size limit.
  HeaderFilter::Options ho;
  ho.header_size_limit = 1 + data[0] % 97;
  ho.hops = {"Received"};
  HeaderFilter f1(ho), f2(ho);
  std::string a = postern::smtp::testing::Chunked(whole.out, whole.out.size() + 1, &f1);
  std::string b = postern::smtp::testing::Chunked(whole.out, step, &f2);
  Check(a == b && f1.removed() == f2.removed() && f1.hops() == f2.hops() && f1.truncated() == f2.truncated());
  return 0;
}
