// http/request_test.cc — the request head parser's limits and the answer to
// each kind of request.
#include "postern/http/request.h"

#include <gtest/gtest.h>

namespace postern::http {
namespace {

using S = Head::State;

TEST(HttpRequest, ParsesHeadsAndKeepsWaitingForTheEnd) {
  struct Case {
    std::string in;
    S state;
    std::string method, path;
  } cases[] = {
      {"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", S::kComplete, "GET", "/metrics"},
      {"GET /metrics?name[]=a HTTP/1.0\n\n", S::kComplete, "GET", "/metrics"},
      {"\r\nHEAD / HTTP/1.1\r\n\r\n", S::kComplete, "HEAD", "/"},
      {"GET /metrics HTTP/1.1\r\nHost: x\r\n", S::kIncomplete, "", ""},
      {"GET /met", S::kIncomplete, "", ""},
      {"GET /metrics HTTP/2.0\r\n\r\n", S::kBad, "", ""},
      {"GET metrics HTTP/1.1\r\n\r\n", S::kBad, "", ""},
      {"GET  /metrics HTTP/1.1\r\n\r\n", S::kBad, "", ""},
      {"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n", S::kBad, "", ""},
      {"G(T /metrics HTTP/1.1\r\n\r\n", S::kBad, "", ""},
  };
  for (const auto& c : cases) {
    Head h = ParseHead(c.in, HeadLimits{});
    EXPECT_EQ(h.state, c.state) << c.in;
    EXPECT_EQ(h.method, c.method) << c.in;
    EXPECT_EQ(h.path, c.path) << c.in;
  }
}

TEST(HttpRequest, BoundsSizeAndHeaderCount) {
  HeadLimits lim{100, 2};
  EXPECT_EQ(ParseHead("GET /metrics HTTP/1.1\r\na: 1\r\nb: 2\r\n\r\n", lim).state, S::kComplete);
  EXPECT_EQ(ParseHead("GET /metrics HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n", lim).state, S::kTooLarge);
  EXPECT_EQ(ParseHead("GET /" + std::string(200, 'a'), lim).state, S::kTooLarge);  // no line end yet
  EXPECT_EQ(ParseHead("GET /metrics HTTP/1.1\r\nx: " + std::string(100, 'a') + "\r\n\r\n", lim).state,
            S::kTooLarge);
}

constexpr Resource kMetrics{"/metrics", "text/plain; version=0.0.4; charset=utf-8"};

Head Complete(std::string method, std::string path) {
  Head h;
  h.state = S::kComplete;
  h.method = std::move(method);
  h.path = std::move(path);
  return h;
}

TEST(HttpRequest, AnswersEachKindOfRequest) {
  std::string ok = Respond(Complete("GET", "/metrics"), kMetrics, "a 1\n");
  EXPECT_EQ(ok,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: 4\r\n"
            "Connection: close\r\n\r\na 1\n");
  std::string head = Respond(Complete("HEAD", "/metrics"), kMetrics, "a 1\n");
  EXPECT_TRUE(head.ends_with("Content-Length: 4\r\nConnection: close\r\n\r\n")) << head;
  EXPECT_TRUE(Respond(Complete("GET", "/"), kMetrics, "").starts_with("HTTP/1.1 404 Not Found\r\n"));
  std::string post = Respond(Complete("POST", "/metrics"), kMetrics, "");
  EXPECT_TRUE(post.starts_with("HTTP/1.1 405 Method Not Allowed\r\n")) << post;
  EXPECT_NE(post.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos);
  Head bad;
  bad.state = S::kBad;
  EXPECT_TRUE(Respond(bad, kMetrics, "").starts_with("HTTP/1.1 400 Bad Request\r\n"));
  EXPECT_TRUE(Wants(Complete("HEAD", "/metrics"), kMetrics));
  EXPECT_FALSE(Wants(Complete("GET", "/"), kMetrics));
  EXPECT_FALSE(Wants(Complete("PUT", "/metrics"), kMetrics));
  Head big;
  big.state = S::kTooLarge;
  EXPECT_TRUE(Respond(big, kMetrics, "").starts_with("HTTP/1.1 431 "));
  std::string down = Respond(Complete("GET", "/metrics"), kMetrics, "", "show stats: master did not answer in time");
  EXPECT_TRUE(down.starts_with("HTTP/1.1 503 Service Unavailable\r\n")) << down;
  EXPECT_TRUE(down.ends_with("\r\n\r\nshow stats: master did not answer in time\n"));
}

}  // namespace
}  // namespace postern::http
