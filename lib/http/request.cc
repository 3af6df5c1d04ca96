// http/request.cc — see request.h.
#include "postern/http/request.h"

#include <fmt/format.h>

namespace postern::http {

namespace {

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (c <= 0x20 || c >= 0x7f || std::string_view("\"(),/:;<=>?@[\\]{}").find(char(c)) != std::string_view::npos)
      return false;
  return true;
}

Head Bad() {
  Head h;
  h.state = Head::State::kBad;
  return h;
}

// "METHOD SP target SP HTTP/1.x"
Head RequestLine(std::string_view line) {
  size_t a = line.find(' ');
  size_t b = a == std::string_view::npos ? a : line.find(' ', a + 1);
  if (b == std::string_view::npos || line.find(' ', b + 1) != std::string_view::npos) return Bad();
  std::string_view method = line.substr(0, a), target = line.substr(a + 1, b - a - 1), version = line.substr(b + 1);
  if (!IsToken(method) || target.empty() || target[0] != '/' || (version != "HTTP/1.1" && version != "HTTP/1.0"))
    return Bad();
  Head h;
  h.state = Head::State::kComplete;
  h.method = std::string(method);
  h.path = std::string(target.substr(0, target.find('?')));
  return h;
}

}  // namespace

Head ParseHead(std::string_view data, const HeadLimits& limits) {
  Head too_large;
  too_large.state = Head::State::kTooLarge;
  std::string_view rest = data;
  std::string_view first;
  size_t headers = 0;
  bool have_first = false;
  while (true) {
    size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) break;
    std::string_view line = rest.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t used = size_t(rest.data() - data.data()) + nl + 1;
    if (used > limits.max_bytes) return too_large;
    rest.remove_prefix(nl + 1);
    if (!have_first) {
      if (line.empty() && first.empty() && used <= 2) continue;  // RFC 9112: a stray CRLF before the request
      first = line;
      have_first = true;
      continue;
    }
    if (line.empty()) return RequestLine(first);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) return Bad();
    if (++headers > limits.max_headers) return too_large;
  }
  if (data.size() > limits.max_bytes) return too_large;
  return Head{};
}

bool Wants(const Head& head, const Resource& res) {
  return head.state == Head::State::kComplete && head.path == res.path &&
         (head.method == "GET" || head.method == "HEAD");
}

std::string Respond(const Head& head, const Resource& res, std::string_view page, std::string_view error) {
  int code = 200;
  std::string_view reason = "OK", extra;
  std::string body;
  if (head.state == Head::State::kBad) {
    code = 400, reason = "Bad Request", body = "malformed request\n";
  } else if (head.state == Head::State::kTooLarge) {
    code = 431, reason = "Request Header Fields Too Large", body = "request header too large\n";
  } else if (head.path != res.path) {
    code = 404, reason = "Not Found", body = fmt::format("only {} is here\n", res.path);
  } else if (!Wants(head, res)) {
    code = 405, reason = "Method Not Allowed", extra = "Allow: GET, HEAD\r\n", body = "use GET\n";
  } else if (!error.empty()) {
    code = 503, reason = "Service Unavailable", body = std::string(error) + "\n";
  }
  bool is_page = code == 200;
  size_t length = is_page ? page.size() : body.size();
  std::string out =
      fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n", code,
                  reason, is_page ? res.content_type : "text/plain; charset=utf-8", length, extra);
  if (head.method == "HEAD" && is_page) return out;
  out += is_page ? std::string(page) : body;
  return out;
}

}  // namespace postern::http
