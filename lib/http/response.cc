// http/response.cc — see response.h.
#include "postern/http/response.h"

#include <charconv>

#include "postern/util/strings.h"

namespace postern::http {

namespace {

Response Fail(Response::State st, std::string why) {
  Response r;
  r.state = st;
  r.error = std::move(why);
  return r;
}

// Takes one line (LF or CRLF) off `rest`; false when it has not all arrived.
bool NextLine(std::string_view* rest, std::string_view* line) {
  size_t nl = rest->find('\n');
  if (nl == std::string_view::npos) return false;
  *line = rest->substr(0, nl);
  if (!line->empty() && line->back() == '\r') line->remove_suffix(1);
  rest->remove_prefix(nl + 1);
  return true;
}

// "HTTP/1.x SP 3DIGIT [SP reason]"
bool StatusLine(std::string_view line, int* status) {
  if (!line.starts_with("HTTP/1.") || line.size() < 12 || line[8] != ' ') return false;
  std::string_view code = line.substr(9, 3);
  for (char c : code)
    if (c < '0' || c > '9') return false;
  if (line.size() > 12 && line[12] != ' ') return false;
  *status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
  return *status >= 100;
}

struct Framing {
  bool chunked = false;
  bool has_length = false;
  size_t length = 0;
};

// RFC 9112 §7.1: hex size [; extensions] CRLF data CRLF ... 0 CRLF [trailers] CRLF.
Response Dechunk(std::string_view rest, bool closed, const ResponseLimits& limits, Response r) {
  while (true) {
    std::string_view line;
    if (!NextLine(&rest, &line)) break;
    std::string_view hex = Trim(line.substr(0, line.find(';')));
    size_t size = 0;
    auto [p, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), size, 16);
    if (hex.empty() || ec != std::errc() || p != hex.data() + hex.size())
      return Fail(Response::State::kBad, "bad chunk size");
    if (size > limits.max_body || r.body.size() + size > limits.max_body)
      return Fail(Response::State::kTooLarge, "body larger than " + std::to_string(limits.max_body) + " bytes");
    if (size == 0) {
      // Trailers (ignored) up to the empty line.
      while (NextLine(&rest, &line)) {
        if (!line.empty()) continue;
        r.state = Response::State::kComplete;
        return r;
      }
      break;
    }
    if (rest.size() < size + 1) break;
    r.body.append(rest.substr(0, size));
    rest.remove_prefix(size);
    if (rest.starts_with("\r\n")) rest.remove_prefix(2);
    else if (rest.starts_with("\n")) rest.remove_prefix(1);
    else if (rest.size() >= 2 || (rest.size() == 1 && rest[0] != '\r')) return Fail(Response::State::kBad, "bad chunk end");
    else break;
  }
  if (closed) return Fail(Response::State::kBad, "connection closed inside the chunked body");
  r.body.clear();
  return r;  // incomplete
}

}  // namespace

Response ParseResponse(std::string_view data, bool closed, const ResponseLimits& limits) {
  Response r;
  std::string_view rest = data, line;
  if (!NextLine(&rest, &line)) {
    if (data.size() > limits.max_head) return Fail(Response::State::kTooLarge, "response head too large");
    return closed ? Fail(Response::State::kBad, "connection closed before a response") : r;
  }
  if (!StatusLine(line, &r.status)) return Fail(Response::State::kBad, "bad status line");
  Framing f;
  bool head_done = false;
  while (NextLine(&rest, &line)) {
    if (size_t(rest.data() - data.data()) > limits.max_head)
      return Fail(Response::State::kTooLarge, "response head too large");
    if (line.empty()) {
      head_done = true;
      break;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return Fail(Response::State::kBad, "bad header line");
    std::string name = ToLower(line.substr(0, colon));
    std::string_view value = Trim(line.substr(colon + 1));
    if (name == "content-type") {
      r.content_type = ToLower(Trim(value.substr(0, value.find(';'))));
    } else if (name == "location") {
      r.location = std::string(value.substr(0, 512));
    } else if (name == "transfer-encoding") {
      f.chunked = ToLower(value).find("chunked") != std::string::npos;
    } else if (name == "content-length") {
      size_t n = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || ec != std::errc() || p != value.data() + value.size() || (f.has_length && n != f.length))
        return Fail(Response::State::kBad, "bad Content-Length");
      f.has_length = true;
      f.length = n;
    }
  }
  if (!head_done) {
    if (data.size() > limits.max_head) return Fail(Response::State::kTooLarge, "response head too large");
    return closed ? Fail(Response::State::kBad, "connection closed inside the response head") : Response{};
  }
  if (f.chunked) return Dechunk(rest, closed, limits, std::move(r));
  size_t want = f.has_length ? f.length : rest.size();
  if (want > limits.max_body || rest.size() > limits.max_body)
    return Fail(Response::State::kTooLarge, "body larger than " + std::to_string(limits.max_body) + " bytes");
  if (f.has_length && rest.size() < want)
    return closed ? Fail(Response::State::kBad, "connection closed inside the body") : Response{};
  if (!f.has_length && !closed) return Response{};
  r.body = std::string(rest.substr(0, want));
  r.state = Response::State::kComplete;
  return r;
}

std::string GetRequest(std::string_view host, std::string_view path) {
  std::string out = "GET ";
  out.append(path).append(" HTTP/1.1\r\nHost: ").append(host);
  out += "\r\nUser-Agent: postern\r\nAccept: text/plain\r\nConnection: close\r\n\r\n";
  return out;
}

}  // namespace postern::http
