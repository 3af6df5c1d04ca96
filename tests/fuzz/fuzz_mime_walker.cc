// tests/fuzz/fuzz_mime_walker.cc — libFuzzer target for the outgoing body
// pipeline (mime::LineSplitter, mime::Walker, smtp::TextOut): never a crash
// or exception; the same output (or error) whatever the chunks; the data
// ended by ".\r\n"; every output line within the limit.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "postern/mime/lines.h"
#include "postern/mime/walker.h"
#include "postern/smtp/text_out.h"
#include "tests/fuzz/check.h"

using namespace postern;
using postern::fuzz::Check;

namespace {

struct Out : mime::LineSink {
  explicit Out(size_t limit) : text(limit) {}
  smtp::TextOut text;
  std::string wire;
  void Line(std::string_view t, bool eol, bool header) override { text.Line(t, eol, header, &wire); }
};

// The DATA stream for `in`, fed in chunks of `chunk` bytes (0: whole).
std::string Send(std::string_view in, size_t chunk, size_t limit, bool downgrade, mime::Limits limits,
                 mime::Error* err) {
  Out out(limit);
  mime::Walker w(limits, downgrade, &out);
  mime::LineSplitter split(limits.hold());
  auto fn = [&w](std::string_view piece, bool eol) { w.Feed(piece, eol); };
  if (chunk == 0) chunk = in.size() + 1;
  for (size_t i = 0; i < in.size(); i += chunk) split.Feed(in.substr(i, chunk), fn);
  split.Finish(fn);
  *err = w.error();
  if (*err == mime::Error::kNone) out.text.Finish(&out.wire);
  return out.wire;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  size_t limit = data[0] % 64;  // 0 = no limit
  size_t chunk = 1 + data[1] % 17;
  bool downgrade = data[2] & 1;
  mime::Limits limits;
  limits.nesting = 1 + data[2] % 5;
  limits.boundary = 1 + data[2] % 40;
  std::string_view in(reinterpret_cast<const char*>(data) + 3, size - 3);

  mime::Error e1, e2;
  std::string whole = Send(in, 0, limit, downgrade, limits, &e1);
  std::string pieces = Send(in, chunk, limit, downgrade, limits, &e2);
  Check(e1 == e2);
  if (e1 != mime::Error::kNone) return 0;
  Check(whole == pieces);
  Check(whole.size() >= 5 && whole.compare(whole.size() - 5, 5, "\r\n.\r\n") == 0 || whole == ".\r\n");
  if (limit == 0) return 0;
  size_t start = 0;
  for (size_t eol; (eol = whole.find("\r\n", start)) != std::string::npos; start = eol + 2) {
    // A stuffed dot is not counted; a bare CR inside a line may sit before the limit's CRLF.
    Check(eol - start <= limit + 1 || whole.find('\r', start) < eol);
  }
  return 0;
}
