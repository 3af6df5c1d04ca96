// http/response.h — the answer to one HTTP/1.1 GET as the HTTPS client
// (client.h) reads it: status line, the headers it needs, and a body framed by
// Content-Length, chunked coding or the end of the connection, all bounded
// (network input: fuzzed, tests/fuzz/fuzz_mta_sts.cc).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace postern::http {

struct Response {
  enum class State { kIncomplete, kComplete, kBad, kTooLarge } state = State::kIncomplete;
  int status = 0;            // 200, 301, ...
  std::string content_type;  // lower-case, parameters removed ("text/plain")
  std::string location;      // of a redirect, for the log line
  std::string body;          // decoded (chunked coding removed)
  std::string error;         // kBad/kTooLarge: what was wrong
};

struct ResponseLimits {
  size_t max_head = 16384;  // status line and headers together
  size_t max_body = 65536;  // RFC 8461 §3.3: a policy is at most 64 KiB
};

// Looks at what has arrived so far. `closed`: the server closed the
// connection after `data` (a body without a length ends there; anything
// else unfinished is bad). A body longer than the limit is kTooLarge.
Response ParseResponse(std::string_view data, bool closed, const ResponseLimits& limits);

// The request the client sends: GET `path` from `host`, one request, then close.
std::string GetRequest(std::string_view host, std::string_view path);

}  // namespace postern::http
