// tests/fuzz/fuzz_http_head.cc — libFuzzer target for the HTTP request head
// parser (http/request.h): any bytes, with limits from the first two bytes;
// the verdict must respect the limits, a longer input never turns a verdict
// back into "incomplete", and every verdict has a well-formed answer.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "postern/http/request.h"

using namespace postern::http;

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  HeadLimits lim{size_t(data[0]) * 16 + 16, size_t(data[1] % 70)};
  std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);
  Head h = ParseHead(in, lim);
  if (h.state == Head::State::kComplete) {
    Check(!h.method.empty() && !h.path.empty() && h.path[0] == '/');
    Check(h.path.find('?') == std::string::npos);
    Check(in.find("\n\n") != std::string_view::npos || in.find("\n\r\n") != std::string_view::npos);
  }
  if (h.state == Head::State::kIncomplete) Check(in.size() <= lim.max_bytes);
  if (h.state != Head::State::kIncomplete) {
    std::string more(in);
    more += "X-More: 1\r\n\r\n";
    Check(ParseHead(more, lim).state != Head::State::kIncomplete);
  }
  Resource res{"/metrics", "text/plain"};
  std::string answer = Respond(h, res, "page\n", in.size() % 3 == 0 ? "down" : "");
  if (answer.starts_with("HTTP/1.1 200 ")) Check(Wants(h, res));
  Check(answer.starts_with("HTTP/1.1 ") && answer.find("\r\n\r\n") != std::string::npos);
  Check(answer.find("Connection: close\r\n") != std::string::npos);
  return 0;
}
