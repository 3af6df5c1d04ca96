// tests/fuzz/fuzz_smtp_reply.cc — libFuzzer target for the streaming reply
// parser: split the input at fuzzer-chosen points, check every reply and
// that formatting it again parses back to the same reply.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "postern/smtp/reply.h"
#include "tests/fuzz/check.h"

using namespace postern::smtp;
using postern::fuzz::Check;

namespace {

bool Clean(const Reply& r) {
  for (const auto& l : r.lines)
    if (l.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) return false;
  return true;
}

void CheckReply(const Reply& r) {
  Check(r.code >= 200 && r.code <= 599 && !r.lines.empty());
  Check(r.enhanced.empty() || (IsEnhancedStatus(r.enhanced) && r.enhanced[0] - '0' == r.code / 100));
  (void)ParseEhlo(r);
  if (!Clean(r)) return;
  std::string wire;
  AppendReply(&wire, r);
  ReplyParser p(1 << 20);
  p.Feed(wire);
  Reply back;
  Check(p.Next(&back) == ReplyParser::Status::kReply);
  Check(back.code == r.code && back.enhanced == r.enhanced && back.lines == r.lines);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t step = 1 + data[0] % 16;  // chunk size for feeding
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  ReplyParser parser(512, 64);
  for (size_t i = 0; i < in.size(); i += step) {
    parser.Feed(in.substr(i, step));
    Reply r;
    ReplyParser::Status st;
    while ((st = parser.Next(&r)) == ReplyParser::Status::kReply) CheckReply(r);
    if (st == ReplyParser::Status::kError) {
      Check(!parser.error().empty());
      break;
    }
  }
  return 0;
}
