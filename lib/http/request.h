// http/request.h — the little HTTP/1.x a postern service speaks (metrics(8)):
// the head of one request, parsed with limits on its size and header count
// (network input: fuzzed, tests/fuzz/fuzz_http_head.cc), and the one response
// sent before the connection closes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace postern::http {

struct HeadLimits {
  size_t max_bytes = 8192;   // request line and headers together
  size_t max_headers = 64;
};

struct Head {
  enum class State { kIncomplete, kComplete, kBad, kTooLarge } state = State::kIncomplete;
  std::string method, path;  // path without the query string
};

// Looks at what has arrived so far (the head ends at an empty line; bare LF
// line ends are accepted as RFC 9112 allows).
Head ParseHead(std::string_view data, const HeadLimits& limits);

// The one resource a service serves (metrics(8): /metrics, Prometheus' type).
struct Resource {
  std::string_view path, content_type;
};

// A complete head that asks for the resource: its path (the query string
// aside), GET or HEAD.
bool Wants(const Head& head, const Resource& res);

// The status, headers and body of the answer to a complete or refused head:
// 200 for the resource (body: `page`, omitted for HEAD), 404 for another
// path, 405 for another method, 400 for a malformed head, 431 for one too large;
// 503 with `error` as the body when the page could not be made.
std::string Respond(const Head& head, const Resource& res, std::string_view page, std::string_view error = {});

}  // namespace postern::http
